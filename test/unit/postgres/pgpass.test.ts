import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findPgpassPassword, parsePgpass, readPgpass } from '../../../src/postgres/pgpass.js';

const TEXT = `# comment
monitor:5432:pg_auto_failover:autoctl_node:s3cr\\:et
*:*:*:pgautofailover_replicator:repl
localhost:6001:*:postgres:local
bad line
`;

describe('.pgpass', () => {
  it('parses with escapes and matches like libpq', () => {
    const entries = parsePgpass(TEXT);
    assert.equal(entries.length, 3);
    assert.equal(findPgpassPassword(entries, { host: 'monitor', port: 5432, database: 'pg_auto_failover', user: 'autoctl_node' }), 's3cr:et');
    assert.equal(findPgpassPassword(entries, { host: 'node9', port: 7, database: 'x', user: 'pgautofailover_replicator' }), 'repl');
    assert.equal(findPgpassPassword(entries, { host: '/tmp', port: 6001, database: 'x', user: 'postgres' }), 'local');
    assert.equal(findPgpassPassword(entries, { host: 'monitor', port: 5433, database: 'pg_auto_failover', user: 'autoctl_node' }), undefined);
  });

  it('ignores a file readable by others', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgaf-pgpass-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'pgpass');
    writeFileSync(path, TEXT);
    chmodSync(path, 0o644);
    assert.deepEqual(readPgpass({ PGPASSFILE: path }), []);
    chmodSync(path, 0o600);
    assert.equal(readPgpass({ PGPASSFILE: path }).length, 3);
    assert.equal(readPgpass({ HOME: dir }).length, 0);
  });
});
