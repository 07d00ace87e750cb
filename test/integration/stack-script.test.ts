/** scripts/stack's bad-input behaviour: a busy port and a stale pid file, in a private stack directory. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const STACK = path.join(__dirname, '..', '..', 'scripts', 'stack');

function runStack(args: string[], env: Record<string, string>) {
  return spawnSync(STACK, args, { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
}

describe('scripts/stack', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-stack-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names the service, the port and the fix when a port is taken by another process', async () => {
    const server = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      // reuse the already-resolved test-server jars so the run reaches MariaDB's start quickly
      fs.mkdirSync(path.join(dir, 'temporal-test-server'), { recursive: true });
      fs.symlinkSync(path.join(__dirname, '..', '..', '.stack', 'temporal-test-server', 'lib'), path.join(dir, 'temporal-test-server', 'lib'));
      const r = runStack(['up'], { CUTOVER_STACK_DIR: dir, CUTOVER_MYSQL_PORT: String(port) });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`mariadb: port 127.0.0.1:${port} is already in use by another process`);
      expect(r.stderr).toMatch(/set CUTOVER_\*_PORT/);
      expect(fs.existsSync(path.join(dir, 'run', 'mariadb.pid'))).toBe(false);
    } finally {
      server.close();
    }
  });

  it('ignores and removes a stale pid file', () => {
    fs.mkdirSync(path.join(dir, 'run'), { recursive: true });
    const pidFile = path.join(dir, 'run', 'kafka.pid');
    fs.writeFileSync(pidFile, '999999\n'); // no such process
    const r = runStack(['status'], { CUTOVER_STACK_DIR: dir });
    expect(r.stdout).toMatch(/^kafka\s+stopped$/m);
    expect(r.status).toBe(1); // not everything is running in this private directory
    expect(fs.existsSync(pidFile)).toBe(false);
  });

  it('does not take a live process that is not ours for a running service', () => {
    fs.mkdirSync(path.join(dir, 'run'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'run', 'dynalite.pid'), `${process.pid}\n`); // jest itself: alive, not a stack service of this dir
    const r = runStack(['status'], { CUTOVER_STACK_DIR: dir });
    expect(r.stdout).toMatch(/^dynalite\s+stopped$/m);
  });
});
