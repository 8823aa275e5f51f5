// What a sign-in's device is, for the new-device notice: the browser and system families from the
// user agent (ua-parser-js, maintained and MIT) and the network (IPv4 /24, IPv6 /48), so that a
// browser update or a new address from the same provider's block is still the same device. The
// token store keeps only a fingerprint of the three (a hash), never the user agent or the address.
import { createHash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { UAParser } from 'ua-parser-js'

export interface Device {
  /** What the store keeps: a hash of browser, system and network. */
  fingerprint: string
  /** For people: "Firefox on Ubuntu". */
  label: string
}

/** The eight groups of an IPv6 address (null when it is not one). */
function ipv6Groups (ip: string): number[] | null {
  const [head = '', tail] = ip.split('::')
  const part = (text: string) => (text === '' ? [] : text.split(':'))
  const left = part(head)
  const right = tail === undefined ? [] : part(tail)
  const missing = 8 - left.length - right.length
  if (tail === undefined ? left.length !== 8 : missing < 0) return null
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right].map((g) => Number.parseInt(g, 16))
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null
}

/** The network of an address: IPv4 /24, IPv6 /48 (an IPv4-mapped IPv6 address is its IPv4); the address itself otherwise. */
export function networkOf (ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  const v4 = mapped ? mapped[1]! : ip
  if (isIPv4(v4)) return v4.split('.').slice(0, 3).join('.') + '.0/24'
  if (isIPv6(ip)) {
    const groups = ipv6Groups(ip.split('%')[0]!)
    if (groups) return groups.slice(0, 3).map((g) => g.toString(16)).join(':') + '::/48'
  }
  return ip
}

export function deviceOf (userAgent: string, ip: string): Device {
  const { browser, os } = new UAParser(userAgent).getResult()
  const browserName = browser.name ?? 'an unknown browser'
  const system = os.name ?? 'an unknown system'
  const fingerprint = createHash('sha256').update(`${browserName}\n${system}\n${networkOf(ip)}`).digest('base64url').slice(0, 22)
  return { fingerprint, label: `${browserName} on ${system}` }
}
