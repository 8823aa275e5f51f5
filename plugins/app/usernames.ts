// How usernames are compared: as Django compares them, after Unicode NFKC normalisation (its
// normalize_username) and case folding, so fullwidth, mathematical-alphabet or differently cased
// twins of a name (ＡＤＭＩＮ, 𝐚𝐝𝐦𝐢𝐧, Admin) are the same name. A pure module: the user repository
// and the migration that re-keys stored users both use it.

/** The form a username is stored and validated in: NFKC, as Django's UsernameField gives it. */
export const normalizeUsername = (username: string): string => username.normalize('NFKC')

/**
 * The key usernames are unique by and looked up with: NFKC, then full case folding. JavaScript
 * has no casefold(): upper-casing then lower-casing gives the full folds (ß and ẞ -> ss, ſ -> s),
 * final sigma is folded like any sigma, and NFKC again keeps the result normalised.
 */
export const foldUsername = (username: string): string =>
  username.normalize('NFKC').toUpperCase().toLowerCase().replace(/ς/g, 'σ').normalize('NFKC')
