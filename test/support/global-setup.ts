import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** Brings the real stack up (idempotent; a no-op when it is already healthy) so `npx jest` works like `npm test`. */
export default function globalSetup(): void {
  if (process.env.CUTOVER_SKIP_STACK === '1') return;
  execFileSync(path.join(__dirname, '..', '..', 'scripts', 'stack'), ['up'], { stdio: 'inherit' });
}
