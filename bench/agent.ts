// A realistic user agent of 120 characters (a phone's browser), sent by every benchmark request and
// stored with each session it starts: the Redis bytes per session are measured with it.
export const USER_AGENT = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17 Mobile/15E148'
if (USER_AGENT.length !== 120) throw new Error(`bench: the user agent must be 120 characters, not ${USER_AGENT.length}`)
/** A client address as the service records it. */
export const CLIENT_IP = '203.0.113.7'
