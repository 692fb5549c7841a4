/**
 * Monitor HA under hostile input, at the unit level (docs/security.md
 * "Monitor high availability"; the SQL side is replayed by
 * test/integration/security-monitor-ha.test.ts): the members loop's HBA
 * path refuses every hostile member host before any DNS lookup or write,
 * the synchronous set holds only member slot names, the monitor's
 * settings cap a slot's WAL, and the primary refuses a switchover to
 * itself or to a member that does not stream as a synchronous standby.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { switchoverRefusal } from '../../../src/monitor/ha/handover.js';
import { memberNamesIn, renderMemberStandbyNames } from '../../../src/monitor/ha/members-loop.js';
import { MONITOR_MAX_SLOT_WAL_KEEP_SIZE, monitorSettings } from '../../../src/postgres/settings-render.js';
import { hbaAddressFor, type Resolver } from '../../../src/postgres/network.js';

const HOSTILE = [
  '10.0.0.9\nhost all all 0.0.0.0/0 trust', '10.0.0.9 trust', '"x"', '0.0.0.0/0', '::/0', '10.0.0.0/8', 'all', 'SameNet',
  'samehost', '@hosts.txt', '+admins', 'a#b', 'x'.repeat(254), 'x\u0001', 'node_1', '.lan', 'fe80::1%eth0', '',
];

describe('monitor HA: hostile member hosts and requests', () => {
  it('the members loop\'s HBA path refuses every hostile member host before any DNS lookup', async () => {
    let lookups = 0;
    const dns: Resolver = { lookup: async () => { lookups += 1; return ['10.0.0.1']; }, reverse: async () => [] };
    for (const host of HOSTILE) {
      await assert.rejects(hbaAddressFor(host, dns), (error: Error) => {
        assert.match(error.message, /^refusing to write a pg_hba.conf rule for invalid node host /, JSON.stringify(host));
        assert.equal(error.message.includes('\n'), false);
        return true;
      });
    }
    assert.equal(lookups, 0);
    assert.deepEqual(await hbaAddressFor('fd00::12', dns), { address: 'fd00::12/128', isHostname: false, ip: 'fd00::12', warnings: [] });
  });

  it('synchronous_standby_names holds member slot names only, whatever else the setting had', () => {
    assert.deepEqual(memberNamesIn("FIRST 2 (pgautofailover_monitor_2, \"evil\", *, pgautofailover_monitor_x, pgautofailover_monitor_7)"),
      ['pgautofailover_monitor_2', 'pgautofailover_monitor_7']);
    assert.equal(renderMemberStandbyNames([]), '');
    assert.equal(renderMemberStandbyNames(['pgautofailover_monitor_2']), 'pgautofailover_monitor_2');
  });

  it('monitors cap the WAL a member slot retains', () => {
    const settings = new Map(monitorSettings({ listenAddresses: '*', port: 5432, ssl: { active: false }, host: { totalMemoryBytes: 2 ** 32, cpuCount: 2 } }));
    assert.equal(settings.get('max_slot_wal_keep_size'), `'${MONITOR_MAX_SLOT_WAL_KEEP_SIZE}'`);
    assert.equal(MONITOR_MAX_SLOT_WAL_KEEP_SIZE, '1 GB');
  });

  it('the primary refuses a switchover to itself, to a member out of the sync set, or to one not streaming as sync', () => {
    const request = { requestId: 1, targetMember: 2, hostname: '127.0.0.12', port: 5432, epoch: 1, requestedAt: new Date(), sync: true, streamingSync: true };
    const own = { hostname: '127.0.0.11', port: 5432 };
    assert.equal(switchoverRefusal(request, own), undefined);
    assert.match(switchoverRefusal({ ...request, hostname: own.hostname }, own) ?? '', /is this primary monitor itself/);
    assert.match(switchoverRefusal({ ...request, sync: false }, own) ?? '', /is not a synchronous standby/);
    assert.match(switchoverRefusal({ ...request, streamingSync: false }, own) ?? '', /does not stream as a synchronous standby right now/);
  });
});
