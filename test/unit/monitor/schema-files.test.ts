import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiFiles, listMigrations, parseMigrationFileName } from '../../../src/monitor/schema.js';

/** The CREATE FUNCTION statements of a migration: header up to the body. */
function functionHeaders(sql: string): Array<{ name: string; header: string }> {
  const headers: Array<{ name: string; header: string }> = [];
  const re = /CREATE (?:OR REPLACE )?FUNCTION (pgautofailover\.\w+)\(([\s\S]*?)\bAS \$\$/g;
  for (let match = re.exec(sql); match; match = re.exec(sql)) headers.push({ name: match[1] ?? '', header: match[0] });
  return headers;
}

describe('monitor migration files', () => {
  it('parses migration file names', () => {
    assert.deepEqual(parseMigrationFileName('0001-schema.sql'), { version: '0001', name: 'schema' });
    assert.deepEqual(parseMigrationFileName('0012-keeper-api.sql'), { version: '0012', name: 'keeper-api' });
    for (const name of ['README.md', '1-x.sql', '0001_schema.sql', '0001-Schema.sql', '0001-.sql', '0001-x.sql~']) {
      assert.equal(parseMigrationFileName(name), undefined, name);
    }
  });

  it('ships numbered migrations without gaps', () => {
    const versions = listMigrations().map((m) => Number(m.version));
    assert.ok(versions.length >= 2);
    assert.deepEqual(versions, versions.map((_, i) => i + 1));
  });

  it('refuses two migrations with one version', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgaf-migrations-'));
    try {
      writeFileSync(join(dir, '0001-a.sql'), 'SELECT 1;');
      writeFileSync(join(dir, '0001-b.sql'), 'SELECT 1;');
      writeFileSync(join(dir, 'notes.txt'), '');
      assert.throws(() => listMigrations(dir), /two monitor schema migrations have version 0001/);
      rmSync(join(dir, '0001-b.sql'));
      assert.deepEqual(listMigrations(dir).map((m) => m.name), ['a']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps functions out of the migrations: they live in api/, re-applied on every upgrade', () => {
    for (const migration of listMigrations()) {
      assert.deepEqual(functionHeaders(readFileSync(migration.file, 'utf8')), [], migration.file);
    }
    assert.ok(apiFiles().length >= 2);
  });

  it('pins the search_path of every function, revokes PUBLIC execution, grants autoctl', () => {
    for (const migration of apiFiles().map((file) => ({ file }))) {
      const sql = readFileSync(migration.file, 'utf8');
      const functions = functionHeaders(sql);
      for (const { name, header } of functions) {
        assert.match(header, /SET search_path = pgautofailover, pg_catalog, pg_temp/, `${migration.file}: ${name}`);
      }
      if (functions.length > 0) {
        assert.match(sql, /REVOKE ALL ON ALL FUNCTIONS IN SCHEMA pgautofailover FROM PUBLIC;/, migration.file);
        assert.match(sql, /GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgautofailover TO autoctl;/, migration.file);
      }
    }
  });

  it('grants the spec 03 API functions to autoctl_node', () => {
    const sql = apiFiles().map((file) => readFileSync(file, 'utf8')).join('\n');
    const granted = new Set<string>();
    for (const block of sql.matchAll(/GRANT EXECUTE ON FUNCTION([^;]*?)\bTO ([^;]*);/g)) {
      if (!(block[2] ?? '').split(/[\s,]+/).includes('autoctl_node')) continue;
      for (const name of (block[1] ?? '').matchAll(/pgautofailover\.(\w+)\(/g)) granted.add(name[1] ?? '');
    }
    const api = ['register_node', 'node_active', 'get_primary', 'get_nodes', 'get_other_nodes', 'get_most_advanced_standby',
      'get_coordinator', 'set_node_system_identifier', 'set_group_system_identifier', 'update_node_metadata',
      'synchronous_standby_names', 'create_formation', 'drop_formation', 'enable_secondary', 'disable_secondary',
      'set_formation_number_sync_standbys', 'set_node_candidate_priority', 'set_node_replication_quorum', 'remove_node',
      'perform_failover', 'perform_promotion', 'start_maintenance', 'stop_maintenance', 'current_state', 'last_events',
      'formation_uri', 'formation_settings'];
    for (const name of api) assert.ok(granted.has(name), name);
    for (const name of ['set_node_health', 'set_node_goal_state', 'record_node_event', 'lock_group', 'record_request', 'insert_event']) {
      assert.ok(!granted.has(name), `${name} must not be granted to autoctl_node`);
    }
  });
});
