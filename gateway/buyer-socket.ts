import type { WebSocket } from 'uWebSockets.js';
import { metrics } from '../shared/metrics.js';
import { FRAMES_PER_SECOND, type FrameBudget } from './frame-budget.js';
import type { Stage } from './buyer-state.js';

/**
 * What a buyer socket keeps (uWS copies these fields onto the socket object itself). Kept for every
 * waiting buyer, so kept small: times are whole milliseconds on the process clock (small integers,
 * not a boxed number per field), the rate limit counts whole frames, and an idle socket holds no
 * promise.
 */
export interface SocketData extends FrameBudget {
  /** The hub's shared copy of the sale id once open (see BuyerSockets). */
  saleId: string;
  buyer: string;
  closed: boolean;
  stage: Stage;
  ticket: number;
  /** The hold this socket was last told of ('' if none): after a heal it may be gone from Redis. */
  holdId: string;
  lastPosition: number;
  /** clockMs() of the last position sent. */
  lastPositionAt: number;
  /** Bumped by every pushed event, so an answer read from Redis before it is known to be stale. */
  seq: number;
  /** The frames of this socket still being handled, in order; null when idle. */
  chain: Promise<void> | null;
  /** Not reading: its send buffer went over BEHIND_BYTES; no frame is sent until it drains (onDrain). */
  behind: boolean;
  /** The socket's join challenge (JoinChallenges: the nonce is derived from it, not stored); 0 = none sent. */
  challengeId: number;
  /** The bits this socket was challenged at; 0 once it sent a good proof (or was never challenged). */
  challengeBits: number;
  /** Its first prediction from a tick's model was recorded (EstimateLog: one per buyer is kept). */
  predicted: boolean;
}

export type Ws = WebSocket<SocketData>;

/** Milliseconds since this process started: a small integer for 24 days (Date.now() is a boxed double). */
export const clockMs = (): number => Math.floor(performance.now());
/** lastPositionAt of a socket that was never sent a position. */
const NEVER = -1e9;

export function newSocketData(saleId: string, buyer: string): SocketData {
  return {
    saleId, buyer, closed: false, stage: 'none', ticket: 0, holdId: '', lastPosition: 0, lastPositionAt: NEVER, seq: 0, chain: null, tokens: FRAMES_PER_SECOND, tokensAt: clockMs(), behind: false, challengeId: 0, challengeBits: 0, predicted: false,
  };
}

/** The uWS topic of a sale's frames: the one topic every socket of the sale is on. */
export const saleTopic = (saleId: string) => `sale:${saleId}`;

/** Moves an open socket to a stage (and, when known, its ticket); a closed one keeps nothing new. */
export function setStage(d: SocketData, stage: Stage, ticket?: number): void {
  if (d.closed) return;
  d.stage = stage;
  if (ticket !== undefined) d.ticket = ticket;
}

/**
 * A socket with more than this waiting in its send buffer is behind: it is sent nothing more until
 * the buffer is down to CAUGHT_UP_BYTES, then its state once (onDrain). So a slow reader costs at most
 * about this much (plus sale frames published to its topic, which uWS caps at maxBackpressure), and
 * no frame is silently lost past uWS's cap: the catch-up says where the buyer stands.
 */
export const BEHIND_BYTES = 64 * 1024;
export const CAUGHT_UP_BYTES = 4 * 1024;
/** uWS's answers to send(): written out at once; dropped (the buffer is over maxBackpressure). */
const SEND_WRITTEN = 1;
const SEND_DROPPED = 2;

/**
 * Sends one frame's text, unless the socket is behind (see BEHIND_BYTES): a buyer who does not read is
 * not sent per-frame updates to pile up in memory, and is sent its state once it reads again (onDrain).
 */
export function sendText(ws: Ws, text: string): void {
  const d = ws.getUserData();
  if (d.closed || d.behind) return;
  const sent = ws.send(text, false);
  if (sent === SEND_WRITTEN) return;
  if (sent === SEND_DROPPED || ws.getBufferedAmount() > BEHIND_BYTES) {
    d.behind = true;
    metrics.wsSlowReaders.inc();
  }
}
