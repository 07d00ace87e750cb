/** Which operator requests the workflow accepts in which state (the update validators), and where rollback lands. */
import { TransitionRefusedError } from '../../../src/shared/errors';
import { PHASES, ROLLBACK_TARGETS, phaseIndex } from '../../../src/shared/phases';
import { rollbackFlags, validateAbort, validateReadPercent, validateRollback } from '../../../src/workflows/migration/rules';
import { initialState, type MigrationState } from '../../../src/workflows/migration/state';

function state(patch: Partial<MigrationState>): MigrationState {
  return { ...initialState(), ...patch };
}

describe('operator request rules', () => {
  it('allows rollback exactly to earlier targets while MySQL still receives writes', () => {
    for (const phase of PHASES) {
      for (const to of ROLLBACK_TARGETS) {
        const s = state({ phase, writeMode: phaseIndex(phase) >= phaseIndex('dynamo-only') ? 'dynamo-only' : 'mysql-only', mysqlWritesStoppedAt: phaseIndex(phase) > phaseIndex('dynamo-only') ? 'T' : null, cdcStopped: phaseIndex(phase) > phaseIndex('stop-cdc') });
        const allowed = phaseIndex(to) < phaseIndex(phase) && phaseIndex(phase) < phaseIndex('dynamo-only');
        if (allowed) expect(() => validateRollback(s, to)).not.toThrow();
        else expect(() => validateRollback(s, to)).toThrow(TransitionRefusedError);
      }
    }
  });

  it('refuses rollback and abort once DynamoDB-only began, after CDC stopped, and while another request is pending', () => {
    expect(() => validateRollback(state({ phase: 'dynamo-only', mysqlWritesStoppedAt: '2026-01-01T00:00:00Z' }), 'verify')).toThrow(/MySQL has received no writes since DynamoDB-only began at 2026/);
    expect(() => validateAbort(state({ phase: 'stop-cdc', cdcStopped: true }))).toThrow(/CDC has stopped/);
    expect(() => validateRollback(state({ phase: 'verify', pendingRollback: { to: 'backfill', id: 1 } }), 'catch-up')).toThrow(/in progress/);
    expect(() => validateAbort(state({ phase: 'verify', pendingAbort: { dropTarget: false } }))).toThrow(/already in progress/);
    expect(() => validateRollback(state({ phase: 'complete' }), 'verify')).toThrow(/ended/);
  });

  it('lands writes on MySQL and reads where the target phase starts', () => {
    expect(rollbackFlags('shadow-writes')).toEqual({ readPercent: 100, writeMode: 'mysql-primary' });
    for (const to of ['backfill', 'catch-up', 'verify', 'read-cutover'] as const) expect(rollbackFlags(to)).toEqual({ readPercent: 0, writeMode: 'mysql-only' });
  });

  it('accepts a read percentage only during the read cut-over, between 0 and 100', () => {
    expect(() => validateReadPercent(state({ phase: 'read-cutover' }), 30)).not.toThrow();
    expect(() => validateReadPercent(state({ phase: 'read-cutover' }), 101)).toThrow(/not a percentage/);
    expect(() => validateReadPercent(state({ phase: 'read-cutover' }), NaN)).toThrow(/not a percentage/);
    expect(() => validateReadPercent(state({ phase: 'verify' }), 10)).toThrow(/only be set during read-cutover/);
  });
});
