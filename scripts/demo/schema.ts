/**
 * The demo's sample schema: four MariaDB tables with varied types, and deterministic row generators shared by the
 * seeder (./seed.ts) and the load generator's workload (./workload.ts), so seeded and live rows look alike.
 *
 *   users        BIGINT UNSIGNED id, utf8mb4 VARCHAR email/name, JSON profile, DATETIME(6), TIMESTAMP (server-set)
 *   orders       DECIMAL(12,2) total, ENUM status, BIGINT user_id, DATETIME(3), nullable TEXT
 *   order_items  composite primary key (order_id, line_no), DECIMAL(10,2)
 *   attachments  BINARY(32) digest, BLOB content
 *
 * Every table has `rev`: a token unique per write ("seed:<table>:<key>" for seeded rows, the load generator's
 * "<run>:<instance>:<op>" afterwards), which the checker uses to name the write that produced a final value.
 * Rows are canonical (src/pipeline/types.ts): BIGINT/DECIMAL as strings, DATETIME(n) with n fraction digits,
 * binary as {$b64}. The app writes every column, `updated_at` included (the routing layer's insert takes full rows;
 * the server default only covers rows written by hand).
 */
import { createHash } from 'node:crypto';
import type { Row } from '../../src/pipeline/types';

/** The demo database (the mapping file's sources are `cutover_demo.<table>`). */
export const DEMO_DATABASE = 'cutover_demo';

/** CREATE TABLE statements of the demo tables (MariaDB/MySQL). */
export const DEMO_DDL: Readonly<Record<DemoTable, string>> = {
  users: `CREATE TABLE users (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    email VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    display_name VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL,
    profile JSON NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    rev VARCHAR(96) NOT NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  orders: `CREATE TABLE orders (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    status ENUM('pending','paid','shipped','delivered','cancelled') NOT NULL,
    total DECIMAL(12,2) NOT NULL,
    currency CHAR(3) NOT NULL,
    placed_at DATETIME(3) NOT NULL,
    note TEXT NULL,
    rev VARCHAR(96) NOT NULL,
    KEY by_user (user_id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  order_items: `CREATE TABLE order_items (
    order_id BIGINT UNSIGNED NOT NULL,
    line_no SMALLINT UNSIGNED NOT NULL,
    sku VARCHAR(32) NOT NULL,
    quantity INT NOT NULL,
    unit_price DECIMAL(10,2) NOT NULL,
    rev VARCHAR(96) NOT NULL,
    PRIMARY KEY (order_id, line_no)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  attachments: `CREATE TABLE attachments (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    order_id BIGINT UNSIGNED NOT NULL,
    filename VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL,
    sha256 BINARY(32) NOT NULL,
    content BLOB NOT NULL,
    rev VARCHAR(96) NOT NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
};

/** A demo table name. */
export type DemoTable = 'users' | 'orders' | 'order_items' | 'attachments';
/** The demo tables in seeding and migration order. */
export const DEMO_TABLES: readonly DemoTable[] = ['users', 'orders', 'order_items', 'attachments'];
/** Primary-key columns of each demo table, in key order. */
export const DEMO_KEYS: Readonly<Record<DemoTable, readonly string[]>> = { users: ['id'], orders: ['id'], order_items: ['order_id', 'line_no'], attachments: ['id'] };

/** How many rows of each table a seed of `total` rows has (20% users, 30% orders, 45% order items, 5% attachments). */
export function tableSizes(total: number): Record<DemoTable, number> {
  const users = Math.max(1, Math.round(total * 0.2));
  const orders = Math.max(1, Math.round(total * 0.3));
  const attachments = Math.max(1, Math.round(total * 0.05));
  return { users, orders, order_items: Math.max(1, total - users - orders - attachments), attachments };
}

/** Lines per order in the seed: order_items keys are (order, 1..LINES) for the first orders. */
export const LINES_PER_ORDER = 3;

const NAMES = ['Ana', 'Bjørn', 'Chloé', 'Dmitri', 'Eun-ji', 'Fátima', 'Grzegorz', 'Hiroshi', 'Ingrid', 'José', 'Kwame', 'Łucja', '李雷', 'Zoë 🚀'];
const STATUSES = ['pending', 'paid', 'shipped', 'delivered', 'cancelled'];
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** A DATETIME text with `fsp` fraction digits, derived from `seed` (2025–2026). */
function datetime(seed: number, fsp: number): string {
  const d = new Date(Date.UTC(2025, 0, 1) + (seed % 63_072_000) * 1000);
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return fsp ? `${base}.${String(seed % 10 ** fsp).padStart(fsp, '0')}` : base;
}

const money = (cents: number): string => `${Math.floor(cents / 100)}.${pad(cents % 100)}`;

/** A full row of `table` for `key`, with `rev` = token; `r` draws the varying parts. */
export function demoRow(table: DemoTable, key: Row, token: string, r: () => number): Row {
  const n = (max: number): number => Math.floor(r() * max);
  switch (table) {
    case 'users': {
      const id = String(key.id);
      const name = `${NAMES[n(NAMES.length)]} ${id}`;
      const profile = JSON.stringify({ city: ['Lisbon', 'Oslo', 'Kraków', '東京'][n(4)], tags: ['beta', 'vip'].slice(0, n(3)), score: n(1000) / 10 });
      return { id, email: `user${id}.${n(1000)}@example.com`, display_name: name, profile: n(10) === 0 ? null : profile, created_at: datetime(n(2 ** 30), 6), updated_at: datetime(n(2 ** 30), 0), rev: token };
    }
    case 'orders':
      return { id: String(key.id), user_id: String(1 + n(1000)), status: STATUSES[n(STATUSES.length)], total: money(n(5_000_000)), currency: ['EUR', 'USD', 'NOK'][n(3)], placed_at: datetime(n(2 ** 30), 3), note: n(3) === 0 ? null : `deliver to door ${n(100)} — ok`, rev: token };
    case 'order_items':
      return { order_id: String(key.order_id), line_no: Number(key.line_no), sku: `SKU-${pad(n(100000), 5)}`, quantity: 1 + n(9), unit_price: money(n(100_000)), rev: token };
    case 'attachments': {
      const content = Buffer.alloc(64 + n(960), n(256));
      for (let i = 0; i < content.length; i += 7) content[i] = n(256);
      return { id: String(key.id), order_id: String(1 + n(1000)), filename: `scan-${key.id}.pdf`, sha256: { $b64: createHash('sha256').update(content).digest('base64') }, content: { $b64: content.toString('base64') }, rev: token };
    }
  }
}

/** The key of the i-th row (0-based) of `table`. */
export function demoKey(table: DemoTable, i: number): Row {
  if (table === 'order_items') return { order_id: String(1 + Math.floor(i / LINES_PER_ORDER)), line_no: 1 + (i % LINES_PER_ORDER) };
  return { id: String(i + 1) };
}
