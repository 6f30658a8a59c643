/** The frames that state where a buyer stands: the first one after a reconnect is compared by sameState. */
export const STATE_FRAMES = new Set(['queued', 'admitted', 'payment_pending', 'order_confirmed', 'payment_failed', 'hold_expired', 'sold_out', 'left']);

/** True when the first state frame after a reconnect is the state before the drop, or its successor. */
export function sameState(before: string, f: { type: string; holdId?: unknown }): boolean {
  if (before === 'queued') return ['queued', 'admitted', 'sold_out'].includes(f.type);
  const holdId = before.slice('hold:'.length);
  return ['admitted', 'payment_pending', 'order_confirmed', 'payment_failed', 'hold_expired'].includes(f.type) && f.holdId === holdId;
}
