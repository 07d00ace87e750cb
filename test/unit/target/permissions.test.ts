import { DynamoPermissionError, migrationPermissionTargets, permissionErrorOf, REQUIRED } from '../../../src/pipeline/target/permissions';
import { PreflightError } from '../../../src/shared/errors';

const denied = (action: string): Error =>
  Object.assign(new Error(`User: arn:aws:iam::1:user/u is not authorized to perform: dynamodb:${action} on resource: arn:aws:dynamodb:r:1:table/t`), { name: 'AccessDeniedException' });

it('permissionErrorOf names the action AWS names, or the assumed one, and ignores other errors', () => {
  expect(permissionErrorOf(denied('DescribeTable'), 'CreateTable', 'orders', 'target')?.missing.map((m) => m.action)).toEqual(['DescribeTable']);
  expect(permissionErrorOf(Object.assign(new Error('The security token included in the request is invalid.'), { name: 'UnrecognizedClientException' }), 'CreateTable', 'orders', 'target')?.message)
    .toContain('dynamodb:CreateTable on table orders');
  expect(permissionErrorOf(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }), 'CreateTable', 'orders', 'target')).toBeUndefined();
  expect(permissionErrorOf(new Error('boom'), 'PutItem', 'orders', 'target')).toBeUndefined();
});

it('DynamoPermissionError lists every missing permission in one message, as a non-retriable PreflightError', () => {
  const e = new DynamoPermissionError([
    { action: 'PutItem', table: 'orders', role: 'target', granted: false, probed: true, detail: 'AccessDeniedException from PutItem' },
    { action: 'DescribeTable', table: 'cutover_etl_control', role: 'control', granted: false, probed: true, detail: 'AccessDeniedException from DescribeTable' },
  ]);
  expect(e).toBeInstanceOf(PreflightError);
  expect(e.name).toBe('DynamoPermissionError');
  expect(e.retriable).toBe(false);
  expect(e.message).toBe(
    'preflight dynamodb permissions: the AWS identity lacks dynamodb:PutItem on table orders, dynamodb:DescribeTable on table cutover_etl_control ' +
      '(AccessDeniedException from PutItem; AccessDeniedException from DescribeTable); grant them as in docs/security.md (AWS IAM)',
  );
});

it('the tables of a migration: the target with its key, the control table keyed by pk; every required action is in the documented policy', () => {
  const [t, c] = migrationPermissionTargets({ table: 'orders', partitionKey: { name: 'id', type: 'N' }, billingMode: 'PAY_PER_REQUEST', gsis: [] }, 'ctl');
  expect([t.role, t.table, t.key.partitionKey.name, c.role, c.table, c.key.partitionKey.name]).toEqual(['target', 'orders', 'id', 'control', 'ctl', 'pk']);
  const documented = ['GetItem', 'BatchGetItem', 'Query', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'DescribeTable'];
  expect([...REQUIRED.target, ...REQUIRED.control].every((a) => documented.includes(a))).toBe(true);
});
