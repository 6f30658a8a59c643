import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../shared/db.js';
import { databaseUrl, redisUrl, testPrefix } from '../helpers/env.js';
import { assertNoOversell, checkOversell, OversellError, type OversellReport } from './oversell-check.js';
import { overlapped, startTakerProcesses, type RoundResult, type TakerProcesses } from './taker-processes.js';

/**
 * The race tests must be able to fail. Here the same takers (2,000, in the same two OS processes, 20
 * Postgres connections each) reserve 100 units the naive way, SELECT then UPDATE, and the very checker
 * that passes our Lua pools (assertNoOversell) has to catch the oversell. The conditional UPDATE shows
 * the harness does not cry wolf: a correct reservation passes it.
 */
const STOCK = 100;
const TAKERS = 2000;
const PROCESSES = 2;
const MAX_NAIVE_RUNS = 3;

let db: Db;
let takers: TakerProcesses;
const tables: string[] = [];

beforeAll(async () => {
  db = createDb(databaseUrl(), 2);
  takers = await startTakerProcesses(PROCESSES, { REDIS_URL: redisUrl(), REDIS_PREFIX: testPrefix(), DATABASE_URL: databaseUrl() });
});
afterAll(async () => {
  await takers?.close();
  for (const t of tables) await db.query(`DROP TABLE IF EXISTS ${t}`).catch(() => {});
  await db?.end();
});

async function stockTable(): Promise<string> {
  const table = `naive_stock_${randomBytes(4).toString('hex')}`;
  tables.push(table);
  await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, quantity int NOT NULL)`);
  await db.query(`INSERT INTO ${table} (id, quantity) VALUES (1, $1)`, [STOCK]);
  return table;
}

async function quantityLeft(table: string): Promise<number> {
  const r = await db.query<{ quantity: number }>(`SELECT quantity FROM ${table} WHERE id = 1`);
  return r.rows[0]!.quantity;
}

interface Run {
  rounds: RoundResult[];
  wins: string[];
  report: OversellReport;
  left: number;
  elapsedMs: number;
}

async function race(kind: 'naive-select-update' | 'conditional-update', label: string): Promise<Run> {
  const table = await stockTable();
  const began = performance.now();
  const rounds = await takers.round((i) => ({ kind, table, takers: TAKERS / PROCESSES, tag: `${label}_p${i}` }));
  const elapsedMs = Math.round(performance.now() - began);
  expect(rounds.flatMap((r) => r.errors)).toEqual([]);
  expect(overlapped(rounds), 'both processes had reservations in flight at once').toBe(true);
  const wins = rounds.flatMap((r) => r.wins);
  return { rounds, wins, report: checkOversell(wins, STOCK), left: await quantityLeft(table), elapsedMs };
}

describe('the oversell checker can tell', () => {
  it(`naive SELECT-then-UPDATE with ${TAKERS} takers in ${PROCESSES} processes oversells ${STOCK} units, and assertNoOversell says so`, async () => {
    const runs: Run[] = [];
    // Overselling is a race, not a certainty: a few runs, and at least one of them must oversell.
    for (let n = 1; n <= MAX_NAIVE_RUNS; n++) {
      const run = await race('naive-select-update', `naive${n}`);
      runs.push(run);
      if (run.report.oversoldBy > 0) break;
    }
    const summary = runs.map((r) => `${r.wins.length} reservations, ${r.left} left, ${r.elapsedMs} ms`).join('; ');
    const oversold = runs.find((r) => r.report.oversoldBy > 0);
    expect(oversold, `no naive run oversold: ${summary}`).toBeDefined();
    expect(() => assertNoOversell(oversold!.wins, STOCK)).toThrow(OversellError);
    expect(() => assertNoOversell(oversold!.wins, STOCK)).toThrow(new RegExp(`oversold: ${oversold!.wins.length} reservations for ${STOCK} units`));
    // The lost update itself: units promised plus units still on the shelf exceed what there was.
    expect(oversold!.wins.length + oversold!.left).toBeGreaterThan(STOCK);
    console.log(`race naive: takers=${TAKERS} processes=${PROCESSES} units=${STOCK} runs=${runs.length} `
      + `reservations=${oversold!.wins.length} oversold_by=${oversold!.report.oversoldBy} left_on_shelf=${oversold!.left} elapsed_ms=${oversold!.elapsedMs}`);
  });

  it(`conditional UPDATE ... WHERE quantity > 0 with the same takers reserves exactly ${STOCK}`, async () => {
    const run = await race('conditional-update', 'cond');
    const report = assertNoOversell(run.wins, STOCK);
    expect(report).toMatchObject({ reservations: STOCK, distinct: STOCK, oversoldBy: 0 });
    expect(run.left).toBe(0);
    expect(run.rounds.reduce((n, r) => n + r.losses, 0)).toBe(TAKERS - STOCK);
    console.log(`race conditional: takers=${TAKERS} processes=${PROCESSES} units=${STOCK} reservations=${run.wins.length} left_on_shelf=${run.left} elapsed_ms=${run.elapsedMs}`);
  });
});
