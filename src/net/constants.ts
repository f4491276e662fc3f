/**
 * Protocol ids, topics and limits of the alliance mesh, shared by peers and relays. Each limit
 * says what goes wrong without it.
 */

/** Gossip topic of pubsub peer discovery; relays and peers of one deployment must agree. */
export const DEFAULT_DISCOVERY_TOPIC = 'alliance/_peer-discovery/1'

/** Encrypted direct messages (one length-prefixed dag-cbor envelope per frame). */
export const DM_PROTOCOL = '/alliance/dm/1'

/**
 * Largest frame accepted on our protocols. Without a cap a peer could announce a 2 GiB length
 * prefix and make the receiver buffer it.
 */
export const MAX_FRAME_BYTES = 64 * 1024

/** Largest reply frame (ack/nack) on request-response protocols. */
export const MAX_REPLY_BYTES = 1024

/** Largest gossip message we publish or hand to subscribers. */
export const MAX_GOSSIP_BYTES = 1024 * 1024

/** Direct (WebRTC) connections a peer keeps open by default. */
export const DEFAULT_TARGET_DIRECT = 8

/**
 * Connections a browser peer keeps at most (direct + relayed + relays). Chromium caps a tab
 * at 500 RTCPeerConnections over its lifetime, so the mesh stays small and bounded.
 */
export const DEFAULT_MAX_CONNECTIONS = 64

/**
 * RTCPeerConnections a tab may create over its lifetime, inbound and outbound (rtc-budget.ts).
 * Chromium refuses more than ~500 per renderer process (a reload keeps the process); past
 * this budget the node starts no handshake either way instead of failing in a loop, and the
 * app tells the user to close and reopen it.
 */
export const DEFAULT_WEBRTC_DIAL_BUDGET = 400

/** Relay redial backoff: first retry after this, doubling up to the cap. */
export const RELAY_BACKOFF_MIN_MS = 250
export const RELAY_BACKOFF_MAX_MS = 10_000

/** WebRTC upgrade backoff per peer after a failed attempt: doubling up to the cap. */
export const UPGRADE_BACKOFF_MIN_MS = 2_000
export const UPGRADE_BACKOFF_MAX_MS = 5 * 60_000

/**
 * How long one WebRTC upgrade (circuit + signaling over the relay + ICE + DTLS) may take. It is
 * also libp2p's dial and per-address dial timeouts (defaults 10 s and 6 s): on a loaded phone
 * or a machine with 16 tabs an upgrade takes several seconds, and one cut off at 6 s has spent
 * its RTCPeerConnection for nothing and backs off.
 */
export const UPGRADE_TIMEOUT_MS = 20_000

/**
 * Of two peers, one is the first dialer (a bit of a hash of the pair, `dialsFirst` in mesh.ts);
 * the other dials only after this long without a direct connection or a handshake between
 * them. Short, because a dial from both sides at once is resolved by the handshake guard
 * (SPEC N17: the first dialer's handshake wins) and only costs an RTCPeerConnection; the grace
 * covers a first dialer that is busy or already at its `targetDirect`. It was 15 s: the
 * highest PeerIds of a forming mesh then waited 15 s for every peer that was full.
 */
export const SECOND_DIALER_GRACE_MS = 3_000

/**
 * A newly discovered peer is dialed after a random delay up to this. Peers that discover each
 * other at once (a relay restart, several tabs opening) would otherwise all start WebRTC
 * handshakes in the same instant; on a loaded machine that makes the SDP answer arrive after
 * ICE has connected, and libdatachannel then fails DTLS ("unknown CA"). It was 1 s, waited
 * out on the 1 s maintenance tick; dials now start from a timer at their own time.
 */
export const FIRST_DIAL_SPREAD_MS = 300

/** WebRTC upgrades a peer runs at once (outbound; the guard caps each direction at 4). */
export const DEFAULT_MAX_PARALLEL_UPGRADES = 4

/** A discovered peer not re-announced for this long is no longer dialed. */
export const PEER_STALE_MS = 2 * 60_000

/**
 * Discovered peers a node remembers (N12). Each costs a little memory and the peer store an
 * entry; without a cap a flood of records from fresh keys would grow both without bound.
 * Past it the least recently seen peer we are not connected to is forgotten.
 */
export const MAX_KNOWN_PEERS = 256

/** Peer-store entries past which those of peers neither known nor connected are deleted. */
export const MAX_PEER_STORE_ENTRIES = 512

/** Pubsub peer discovery re-announces this often (and at once on address changes). */
export const DEFAULT_DISCOVERY_INTERVAL_MS = 10_000

/**
 * An announcement asked for by an event (our reservation gave us addresses, a peer new to us
 * appeared) goes out this much later, so that the burst of address updates of one reservation
 * (circuit address, then its /webrtc address) makes one record. It was 200 ms: twice on the
 * path from a tab's reservation to a peer discovering it and being discovered back.
 */
export const ANNOUNCE_COALESCE_MS = 50

/** Maintenance tick: upgrades, duplicate cleanup, RTT refresh, relay state checks. */
export const MAINTENANCE_INTERVAL_MS = 1_000

/** Received DMs kept in memory. */
export const DM_INBOX_SIZE = 100

/** A DM stream must deliver its frame (or the sender its ack) within this time. */
export const DM_TIMEOUT_MS = 15_000
