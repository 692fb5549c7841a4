import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { switchoverRefusal } from '../../../src/monitor/ha/handover.js';
import { promotionRefusal } from '../../../src/monitor/ha/promote.js';
import {
  monitorSlotName, parseTimelineHistory, rejoinSource, rewindNeeded,
} from '../../../src/monitor/ha/rejoin.js';
import type { PendingMonitorSwitchover } from '../../../src/monitor-api/index.js';
import { parseLsn, replicationConninfo } from '../../../src/postgres/index.js';

const address = { hostname: '127.0.0.12', port: 6001 };

describe('monitor promotion: never a member out of the sync set', () => {
  it('refuses a missing member, a member not in sync, and one the sync record does not name', () => {
    assert.match(promotionRefusal(address, undefined, undefined) ?? '', /^this monitor \(127\.0\.0\.12:6001\) is not a registered monitor member$/);
    const member = { memberId: 2, sync: false, syncChangedAt: null };
    assert.match(promotionRefusal(address, member, undefined) ?? '', /monitor member 2 \(127\.0\.0\.12:6001\) is not a synchronous standby/);
    assert.match(promotionRefusal(address, member, true) ?? '', /is not a synchronous standby/, 'the member row must say sync too');
    const inSync = { ...member, sync: true };
    assert.equal(promotionRefusal(address, inSync, undefined), undefined, 'no sync record to ask (no etcd): the member row decides');
    assert.equal(promotionRefusal(address, inSync, true), undefined);
    assert.match(promotionRefusal(address, inSync, false) ?? '', /the sync record does not name monitor member 2/);
    assert.match(promotionRefusal(address, inSync, 'unreadable') ?? '', /the sync record cannot be read/);
  });
});

describe('monitor rejoin: rewind only when needed', () => {
  const history = parseTimelineHistory('1\t0/3000158\tno recovery target specified\n\n2\t0/5000000\tno recovery target specified\n');

  it('parses a timeline history file', () => {
    assert.deepEqual(history, [{ timeline: 1, switchpoint: parseLsn('0/3000158') }, { timeline: 2, switchpoint: parseLsn('0/5000000') }]);
    assert.deepEqual(parseTimelineHistory(''), []);
    assert.deepEqual(parseTimelineHistory('# comment\nnot a line\n'), []);
  });

  it('follows without a rewind after a clean shutdown before the fork, rewinds otherwise', () => {
    const clean = { timeline: 1, checkpointLsn: parseLsn('0/30000E0'), clusterState: 'shut down' };
    assert.equal(rewindNeeded(clean, 3, history), false, 'the shutdown checkpoint lies before the switch point');
    assert.equal(rewindNeeded({ ...clean, checkpointLsn: parseLsn('0/3000158') }, 3, history), true, 'at the switch point: WAL past the fork');
    assert.equal(rewindNeeded({ ...clean, checkpointLsn: parseLsn('0/4000000') }, 3, history), true, 'WAL written after the fork');
    assert.equal(rewindNeeded({ ...clean, clusterState: 'shut down in recovery' }, 3, history), true, 'not a primary shut down: pg_rewind decides');
    assert.equal(rewindNeeded({ ...clean, clusterState: 'in production' }, 3, history), true);
    assert.equal(rewindNeeded(clean, 1, []), false, 'same timeline: nothing forked');
    assert.equal(rewindNeeded({ ...clean, timeline: 4 }, 3, history), true, 'our timeline is newer than the upstream\'s');
    assert.equal(rewindNeeded({ ...clean, timeline: 7 }, 9, history), true, 'a timeline the history does not name');
  });

  it('streams as pgautofailover_replicator through the member\'s slot', () => {
    assert.equal(monitorSlotName(7), 'pgautofailover_monitor_7');
    const source = rejoinSource({ upstream: { host: '127.0.0.11', port: 6000 }, memberId: 7, sslMode: 'prefer', password: undefined, env: {} });
    assert.equal(replicationConninfo(source, { includePassword: true }),
      'application_name=pgautofailover_monitor_7 host=127.0.0.11 port=6000 user=pgautofailover_replicator sslmode=prefer');
    const withPassword = rejoinSource({ upstream: { host: '127.0.0.11', port: 6000 }, memberId: 7, sslMode: 'require', password: '', env: { PGPASSWORD: 'pw' } });
    assert.equal(withPassword.password, 'pw', 'PGPASSWORD when the config has no replication.password');
    assert.equal(rejoinSource({ upstream: { host: 'h', port: 1 }, memberId: 7, sslMode: 'require', password: 'conf', env: { PGPASSWORD: 'pw' } }).password,
      'conf', 'replication.password first');
  });
});

describe('monitor switchover: the primary\'s answer', () => {
  const request: PendingMonitorSwitchover = {
    requestId: 3, targetMember: 2, hostname: '127.0.0.12', port: 6001, sync: true, streamingSync: true, epoch: 1, requestedAt: new Date(0),
  };
  const own = { hostname: '127.0.0.11', port: 6000 };

  it('accepts a synchronous standby that streams now, refuses anything else', () => {
    assert.equal(switchoverRefusal(request, own), undefined);
    assert.match(switchoverRefusal({ ...request, sync: false }, own) ?? '', /is not a synchronous standby/);
    assert.match(switchoverRefusal({ ...request, streamingSync: false }, own) ?? '', /does not stream as a synchronous standby right now/);
    assert.match(switchoverRefusal({ ...request, hostname: own.hostname, port: own.port }, own) ?? '', /is this primary monitor itself/);
  });
});
