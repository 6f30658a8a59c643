/**
 * The frame budget of one buyer socket: a token bucket of whole frames, FRAMES_PER_SECOND at most,
 * one credited every MS_PER_FRAME. Kept as two small integers on the socket (see SocketData): every
 * waiting buyer has one, so no object per socket.
 */
export const FRAMES_PER_SECOND = 20;
const MS_PER_FRAME = 1000 / FRAMES_PER_SECOND;

export interface FrameBudget {
  /** Frames this socket may still send now. */
  tokens: number;
  /** clockMs() up to which tokens have been credited. */
  tokensAt: number;
}

/** Takes one frame from the budget at `now` (clockMs()); false when the socket is over it. */
export function takeFrame(b: FrameBudget, now: number): boolean {
  // Whole frames are credited, each 50 ms after the last; a full bucket does not bank time.
  const earned = Math.floor((now - b.tokensAt) / MS_PER_FRAME);
  if (earned > 0) {
    b.tokens = Math.min(FRAMES_PER_SECOND, b.tokens + earned);
    b.tokensAt = b.tokens === FRAMES_PER_SECOND ? now : b.tokensAt + earned * MS_PER_FRAME;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}
