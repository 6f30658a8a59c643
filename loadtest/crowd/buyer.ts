import WebSocket from 'ws';
import { solveInTurn } from './proof-queue.js';
import { sameState, STATE_FRAMES } from './reconnect-state.js';
import { noteQueued } from './draw-check.js';
import type { BuyerResult, Outcome } from './stats.js';

/**
 * One buyer of a crowd, written only against the contract: connect, join, then behave as planned —
 * pay, be declined once and pay again, abandon the hold, or leave. A dropped socket is reopened (with
 * backoff and jitter, as the buyer page does), and the buyer's state must come back with it.
 *
 * With several gateways, a buyer keeps to the one it started on, as a sticky load balancer does: a
 * reconnect goes to the same gateway, and only when that one refuses or never answers the upgrade
 * (killed, gone) does the next attempt go to the next gateway in the list. The contract promises the
 * state comes back on any gateway.
 */
export type Plan = 'pay' | 'decline' | 'abandon' | 'leave';

export interface BuyerSpec {
  id: string;
  token: string;
  plan: Plan;
  /** Epoch ms at which this buyer arrives. */
  startAt: number;
  localAddress: string;
  /** The gateway (index into the buyer's URLs) of its first session. */
  gateway?: number;
}

type Frame = { type: string; [k: string]: any };

const MAX_SESSIONS = 8;

/** Answers that mean "not now" (a dependency away): a person clicks again after a moment. */
const TRY_AGAIN = new Set(['unavailable', 'internal', 'not_ready']);
const MAX_TRIES_AGAIN = 20;

export class CrowdBuyer {
  readonly result: BuyerResult;
  private ws: WebSocket | undefined;
  private joinSentAt = 0;
  private admittedAt = 0;
  private dropped = false;
  /** The buyer's last state before a deliberate drop, e.g. `queued` or `admitted:hold_…`. */
  private before: string | undefined;
  private last: string | undefined;
  private wake: (() => void) | undefined;
  /** The last join, pay or leave sent, sent again after a "try again" error. */
  private lastAction: unknown;
  private triesAgain = 0;
  private tryAgainTimer: ReturnType<typeof setTimeout> | undefined;
  /** The proof for this socket's challenge ('' when none was sent: the sale asks none). */
  private proof = '';
  /** The challenge being solved now (a newer challenge or socket replaces it), and a join waiting for it. */
  private solving: Promise<void> | undefined;
  private joinAfterSolve = false;
  /** A join is due once the sale frame is in: any challenge comes before it (the gateway's order). */
  private joinOnSale = false;
  /** Epoch ms of the sale's start (from the sale frame): estimates shown from then on are kept. */
  private startsAt = Number.POSITIVE_INFINITY;

  /** Index into wsUrls of the gateway the next session opens on. */
  private gateway: number;
  readonly wsUrls: string[];

  /** `wsUrl`: one URL (token included) per gateway; the buyer starts on `spec.gateway` (default 0). */
  constructor(readonly spec: BuyerSpec, wsUrl: string | string[], readonly keepFrames = false) {
    this.wsUrls = typeof wsUrl === 'string' ? [wsUrl] : wsUrl;
    this.gateway = (spec.gateway ?? 0) % this.wsUrls.length;
    this.result = {
      id: spec.id, outcome: 'stuck', joined: false, admitted: false, declines: 0, reconnects: 0, orderIds: [], localAddress: spec.localAddress,
      gateway: this.gateway, gatewaySwitches: 0,
    };
    if (keepFrames) this.result.frames = [];
  }

  get finished(): boolean {
    return this.result.outcome !== 'stuck';
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  async run(deadline: number): Promise<void> {
    const wait = this.spec.startAt - Date.now();
    if (wait > 0) await sleep(wait);
    for (let s = 0; s < MAX_SESSIONS && !this.finished && Date.now() < deadline; s++) {
      if (s > 0) {
        this.result.reconnects++;
        // A storm drop comes back within a second (every tab reconnects at once); an unexpected drop
        // backs off with jitter so a struggling gateway is not hammered.
        const delay = this.dropped ? Math.random() * 1000 : Math.min(8000, 250 * 2 ** s) * (0.5 + Math.random());
        await sleep(delay);
      }
      await this.session(s === 0);
    }
  }

  /** The reconnect storm: the socket goes away under the buyer (a network blip, a gateway restart). */
  drop(): void {
    if (this.finished || !this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.dropped = true;
    this.before = this.last;
    this.ws.terminate();
  }

  private session(first: boolean): Promise<void> {
    return new Promise((resolve) => {
      const t0 = performance.now();
      // A gateway that accepts the TCP connection but never answers the upgrade (stopped) counts as gone.
      const ws = new WebSocket(this.wsUrls[this.gateway]!, { localAddress: this.spec.localAddress, perMessageDeflate: false, handshakeTimeout: 10_000 });
      this.ws = ws;
      this.proof = '';
      this.solving = undefined;
      this.joinAfterSolve = false;
      this.joinOnSale = false;
      this.wake = resolve;
      let stateSeen = false;
      let opened = false;
      ws.on('open', () => {
        opened = true;
        if (first) this.result.connectMs = performance.now() - t0;
        // The address the kernel really used, so a test can tell the spreading works.
        this.result.localAddress = (ws as unknown as { _socket?: { localAddress?: string } })._socket?.localAddress ?? this.result.localAddress;
        if (first || this.before === undefined) {
          this.joinOnSale = true;
          return;
        }
        // After a drop the gateway sends the buyer's state by itself; a buyer who hears nothing joins.
        setTimeout(() => {
          if (!stateSeen && ws.readyState === WebSocket.OPEN) {
            this.result.restored = false;
            this.join();
          }
        }, 3000);
      });
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as Frame;
        this.result.frames?.push({ at: Date.now(), ...f });
        if (STATE_FRAMES.has(f.type) && !stateSeen) {
          stateSeen = true;
          if (this.before !== undefined && this.result.restored === undefined) this.result.restored = sameState(this.before, f);
        }
        this.onFrame(f);
      });
      ws.on('error', () => {});
      ws.on('close', () => {
        // The upgrade was refused or never answered: this gateway is gone, the next attempt goes to
        // the next one (a gateway that answered and then dropped the socket is tried again first).
        if (!opened && this.wsUrls.length > 1) {
          this.gateway = (this.gateway + 1) % this.wsUrls.length;
          this.result.gatewaySwitches = (this.result.gatewaySwitches ?? 0) + 1;
        }
        resolve();
      });
    });
  }

  private join(): void {
    if (this.solving) {
      this.joinAfterSolve = true;
      return;
    }
    this.joinSentAt = performance.now();
    this.act(this.proof ? { type: 'join', proof: this.proof } : { type: 'join' });
  }

  /**
   * The sale's proof-of-work: solved here, in this thread (node:crypto; about 2^bits hashes, ~0.1 s
   * at 16 bits), as a real client would spend it before joining, in slices so this thread's other
   * buyers keep reading their sockets meanwhile, one solve at a time per thread (solveInTurn). A join asked for while solving goes once the proof is
   * in; a challenge sent later (the bits were raised after this socket opened and its join was
   * refused) is answered with a join at once.
   */
  private onChallenge(f: Frame): void {
    const t0 = performance.now();
    const run: Promise<void> = solveInTurn(String(f.nonce), Number(f.bits)).then(({ proof }) => {
      if (this.solving !== run) return; // a newer challenge or socket took over
      this.solving = undefined;
      this.proof = proof;
      this.result.solveMs = (this.result.solveMs ?? 0) + (performance.now() - t0);
      if (this.joinAfterSolve || (!this.joinOnSale && !this.result.joined && this.lastAction !== undefined)) {
        this.joinAfterSolve = false;
        this.join();
      }
    });
    this.solving = run;
  }

  private send(frame: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  /** A join, pay or leave: the frame a "try again" error is answered with, once more. */
  private act(frame: Frame): void {
    this.lastAction = frame;
    clearTimeout(this.tryAgainTimer);
    this.send(frame);
  }

  /** Sends the last action again after a backoff with jitter, as a person clicking again would. */
  private tryAgain(): void {
    if (this.lastAction === undefined || this.triesAgain >= MAX_TRIES_AGAIN) return;
    const delay = Math.min(4000, 250 * 2 ** Math.min(4, this.triesAgain++)) * (0.5 + Math.random());
    clearTimeout(this.tryAgainTimer);
    this.tryAgainTimer = setTimeout(() => {
      if (!this.finished) this.send(this.lastAction);
    }, delay);
  }

  private finish(o: Outcome): void {
    if (!this.finished) this.result.outcome = o;
    clearTimeout(this.tryAgainTimer);
    this.ws?.close();
  }

  private onFrame(f: Frame): void {
    const now = performance.now();
    if ((f.type === 'queued' || f.type === 'admitted' || f.type === 'sold_out') && !this.result.joined) {
      this.result.joined = true;
      if (this.joinSentAt > 0) this.result.joinToQueuedMs = now - this.joinSentAt;
      this.result.joinedAt = Date.now();
    }
    switch (f.type) {
      case 'challenge':
        return this.onChallenge(f);
      case 'queued':
        this.last = 'queued';
        return noteQueued(this.result, f, this.startsAt);
      case 'admitted': {
        this.last = `hold:${f.holdId}`;
        if (!this.result.admitted) {
          this.admittedAt = now;
          this.result.admittedAt = Date.now();
        }
        this.result.admitted = true;
        const plan = this.spec.plan;
        if (plan === 'abandon') return; // walks away: the hold must expire and go to someone else
        if (plan === 'leave') return this.act({ type: 'leave' });
        return this.act({ type: 'pay', holdId: f.holdId, paymentMethod: plan === 'decline' && this.result.declines === 0 ? 'pm_card_chargeDeclined' : 'pm_card_visa' });
      }
      case 'payment_pending':
        this.last = `hold:${f.holdId}`;
        return;
      case 'payment_failed':
        // The ledger had no unit left for this hold (its stock fence): nothing was charged, nothing to retry.
        if (f.reason === 'sold_out' && !f.retryable) return this.finish('sold_out');
        this.result.declines++;
        if (f.retryable) this.act({ type: 'pay', holdId: f.holdId, paymentMethod: 'pm_card_visa' });
        return;
      case 'error':
        // Answered by the challenge that comes with it (onChallenge), not counted as a failure.
        if (f.code === 'challenge_failed') return;
        this.result.errors = (this.result.errors ?? 0) + 1;
        // The connect's reads failed (Redis or Postgres away), so no sale frame is coming: join now,
        // and let "try again" resend the join as it does any refused action.
        if (this.joinOnSale) {
          this.joinOnSale = false;
          this.join();
          return;
        }
        if (TRY_AGAIN.has(f.code)) this.tryAgain();
        return;
      case 'order_confirmed':
        if (!this.result.orderIds.includes(f.orderId)) this.result.orderIds.push(f.orderId);
        this.result.confirmedAt ??= Date.now();
        if (this.admittedAt > 0 && this.result.admittedToConfirmedMs === undefined) this.result.admittedToConfirmedMs = now - this.admittedAt;
        return this.finish('confirmed');
      case 'sold_out': return this.finish('sold_out');
      case 'hold_expired': return this.finish('expired');
      case 'left': return this.finish('left');
      case 'sale':
        if (typeof f.prequeueCommitment === 'string') this.result.commitment ??= f.prequeueCommitment;
        if (typeof f.startsAt === 'string') this.startsAt = Date.parse(f.startsAt);
        if (f.state === 'ended') return this.finish('ended');
        if (this.joinOnSale) {
          this.joinOnSale = false;
          this.join();
        }
        return;
    }
  }

  /** Gives up at the run's deadline: an open socket is closed, the buyer stays `stuck`. */
  abort(): void {
    clearTimeout(this.tryAgainTimer);
    this.ws?.terminate();
    this.wake?.();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
