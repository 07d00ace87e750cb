/**
 * Loads @vlasky/zongji (ESM-only) from CommonJS code, and fixes the connection options every cutover binlog reader
 * uses so that row values keep full precision (see ../row/codec.ts).
 *
 * Node's own require is used (not the caller's module loader): Node 20.19+ can require() an ES module, and this
 * also works under jest, whose module registry cannot load untransformed ESM from node_modules.
 */
import type ZongJiClass from '@vlasky/zongji';
import { mysqlConnectionParams } from '../../infra/mysql';

export type ZongJi = InstanceType<typeof ZongJiClass>;

// process.getBuiltinModule (Node 20.16+) reaches the real 'node:module' even where a test runner substitutes its own.
const nodeModule = (process as unknown as { getBuiltinModule(id: string): typeof import('node:module') }).getBuiltinModule('node:module');
const nativeRequire = nodeModule.createRequire(__filename);

/** The ZongJi constructor. */
export function loadZongJi(): typeof ZongJiClass {
  const mod = nativeRequire('@vlasky/zongji') as { default: typeof ZongJiClass };
  return mod.default;
}

/** Connection options for a binlog reader on `url`: exact strings for dates and JSON, UTC. */
export function zongjiConnectionOptions(url?: string): Record<string, unknown> {
  const p = mysqlConnectionParams(url);
  return {
    host: p.host,
    port: p.port,
    user: p.user,
    password: p.password,
    dateStrings: true,
    jsonStrings: true,
    timezone: 'Z',
    supportBigNumbers: true,
    bigNumberStrings: true,
    charset: 'utf8mb4',
  };
}

/** A new, not yet started binlog reader on `url`. */
export function createZongJi(url?: string): ZongJi {
  const Z = loadZongJi();
  return new Z(zongjiConnectionOptions(url) as ConstructorParameters<typeof ZongJiClass>[0]);
}
