// Django 5.x's default password validators (django.contrib.auth.password_validation), ported
// line for line so a client sees exactly the messages a Django back end would give, plus
// bcrypt's 72-byte limit. Python works on code points, so strings are iterated with for…of
// (never .length), and Python's own definitions of \w, whitespace and isdigit() are used.

export interface UserAttributes {
  username?: string | null
  email?: string | null
  first_name?: string | null
  last_name?: string | null
}

export const MIN_LENGTH = 8
export const MAX_SIMILARITY = 0.7
/** bcrypt only reads the first 72 bytes; longer passwords are refused instead of truncated. */
export const MAX_BYTES = 72

export const messages = {
  tooShort: (min: number) =>
    min === 1
      ? `This password is too short. It must contain at least ${min} character.`
      : `This password is too short. It must contain at least ${min} characters.`,
  tooSimilar: (verboseName: string) => `The password is too similar to the ${verboseName}.`,
  tooCommon: 'This password is too common.',
  entirelyNumeric: 'This password is entirely numeric.',
  tooLong: (max: number) => `This password is too long. It must contain at most ${max} bytes.`
} as const

// Django's DEFAULT_USER_ATTRIBUTES, in its order, with the User model's verbose names.
const USER_ATTRIBUTES: ReadonlyArray<readonly [keyof UserAttributes, string]> = [
  ['username', 'username'],
  ['first_name', 'first name'],
  ['last_name', 'last name'],
  ['email', 'email address']
]

// Python's str.isspace(): JavaScript's trim() differs (it strips U+FEFF, keeps U+0085 and U+001C-U+001F).
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu')
// Python's re \W on str: anything but str.isalnum() or "_", which is exactly letters and numbers (checked against unicodedata).
const PY_NON_WORD = /[^\p{L}\p{N}_]+/u
// Python's str.isdigit(): Unicode decimal digits plus the Numeric_Type=Digit characters
// (superscripts, circled digits...), taken from Python's unicodedata.
const PY_DIGITS = new RegExp(
  '^[\\p{Nd}\\u00b2\\u00b3\\u00b9\\u1369-\\u1371\\u19da\\u2070\\u2074-\\u2079\\u2080-\\u2089\\u2460-\\u2468' +
    '\\u2474-\\u247c\\u2488-\\u2490\\u24ea\\u24f5-\\u24fd\\u24ff\\u2776-\\u277e\\u2780-\\u2788\\u278a-\\u2792' +
    '\\u{10a40}-\\u{10a43}\\u{10e60}-\\u{10e68}\\u{11052}-\\u{1105a}\\u{1f100}-\\u{1f10a}]+$',
  'u'
)

/** Python's str.strip() with no argument. */
export function pyStrip (s: string): string {
  return s.replace(PY_STRIP, '')
}

/** Python's len(): code points, not UTF-16 units. */
function codePoints (s: string): number {
  let n = 0
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- only the count of the string's code points is wanted
  for (const _ of s) n++
  return n
}

/** difflib.SequenceMatcher(a=a, b=b).quick_ratio(): an upper bound on ratio() from the multiset intersection. */
export function quickRatio (a: string, b: string): number {
  const fullbcount = new Map<string, number>()
  let lenB = 0
  for (const ch of b) {
    fullbcount.set(ch, (fullbcount.get(ch) ?? 0) + 1)
    lenB++
  }
  const avail = new Map<string, number>()
  let matches = 0
  let lenA = 0
  for (const ch of a) {
    lenA++
    const numb = avail.has(ch) ? avail.get(ch)! : (fullbcount.get(ch) ?? 0)
    avail.set(ch, numb - 1)
    if (numb > 0) matches++
  }
  const length = lenA + lenB
  // difflib's _calculate_ratio: two empty sequences are identical.
  return length ? (2 * matches) / length : 1
}

/**
 * Django's exceeds_maximum_length_ratio: a value far shorter than the password cannot reach
 * the similarity bound, so it is skipped (this also skips the empty parts of re.split).
 */
export function exceedsMaximumLengthRatio (password: string, maxSimilarity: number, value: string): boolean {
  const pwdLen = codePoints(password)
  const lengthBoundSimilarity = (maxSimilarity / 2) * pwdLen
  const valueLen = codePoints(value)
  return pwdLen >= 10 * valueLen && valueLen < lengthBoundSimilarity
}

/** UserAttributeSimilarityValidator: the first attribute that is too similar, or null. */
export function userAttributeSimilarity (
  password: string,
  user: UserAttributes | undefined,
  maxSimilarity: number = MAX_SIMILARITY
): string | null {
  if (!user) return null
  const pwd = password.toLowerCase()
  for (const [attribute, verboseName] of USER_ATTRIBUTES) {
    const value = user[attribute]
    if (!value || typeof value !== 'string') continue
    const valueLower = value.toLowerCase()
    // re.split(r"\W+", value_lower) + [value_lower]; String#split keeps the empty edge parts as Python does.
    const parts = [...valueLower.split(PY_NON_WORD), valueLower]
    for (const part of parts) {
      if (exceedsMaximumLengthRatio(pwd, maxSimilarity, part)) continue
      if (quickRatio(pwd, part) >= maxSimilarity) return messages.tooSimilar(verboseName)
    }
  }
  return null
}

/** MinimumLengthValidator. */
export function minimumLength (password: string, min: number = MIN_LENGTH): string | null {
  return codePoints(password) < min ? messages.tooShort(min) : null
}

/** CommonPasswordValidator: the list holds lower-cased, stripped entries. */
export function commonPassword (password: string, common: ReadonlySet<string>): string | null {
  return common.has(pyStrip(password.toLowerCase())) ? messages.tooCommon : null
}

/** NumericPasswordValidator (Python's isdigit(): false for the empty string). */
export function numeric (password: string): string | null {
  return PY_DIGITS.test(password) ? messages.entirelyNumeric : null
}

/** bcrypt's limit, counted as bcryptjs encodes (UTF-8; a lone surrogate counts as U+FFFD's 3 bytes). */
export function maximumBytes (password: string, max: number = MAX_BYTES): string | null {
  return Buffer.byteLength(password, 'utf8') > max ? messages.tooLong(max) : null
}

/**
 * All problems at once, in Django's order (similarity, minimum length, common, numeric),
 * then the 72-byte rule. [] when the password is acceptable.
 */
export function validatePassword (password: string, user: UserAttributes | undefined, common: ReadonlySet<string>): string[] {
  const results = [
    userAttributeSimilarity(password, user),
    minimumLength(password),
    commonPassword(password, common),
    numeric(password),
    maximumBytes(password)
  ]
  return results.filter((m): m is string => m !== null)
}
