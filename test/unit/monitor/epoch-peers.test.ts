import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPeerWatch, newerWritablePeer, type PeerEpoch } from '../../../src/monitor/epoch-peers.js';
import type { MonitorEpoch } from '../../../src/monitor-api/index.js';

const at = (epoch: number, writable = true): MonitorEpoch => ({ epoch, writable, systemIdentifier: 1n, timeline: epoch, startedAt: null });

describe('monitor peers and epochs', () => {
  it('a writable peer with a higher epoch stops this monitor; a read-only, equal, lower or unreachable one does not', () => {
    const peers: PeerEpoch[] = [
      { peer: 'postgres://a', epoch: at(5, false) },
      { peer: 'postgres://b', epoch: at(2) },
      { peer: 'postgres://c', error: 'connection refused' },
      { peer: 'postgres://d', epoch: at(3) },
    ];
    assert.equal(newerWritablePeer(3, peers), undefined);
    assert.equal(newerWritablePeer(2, peers)?.peer, 'postgres://d');
    assert.equal(newerWritablePeer(0, []), undefined);
  });

  it('the watch logs when blocking starts and ends, and an unreachable peer once', async () => {
    const lines: string[] = [];
    const log = { info: (m: string) => { lines.push(`info ${m}`); }, warn: (m: string) => { lines.push(`warn ${m}`); } };
    let answers: PeerEpoch[] = [{ peer: 'postgres://p', error: 'refused' }];
    const watch = createPeerWatch({ peers: ['postgres://p'], log, ownEpoch: () => 1, read: async () => answers });
    await watch.check();
    await watch.check();
    assert.equal(watch.blockedBy, undefined);
    assert.deepEqual(lines, ['warn Failed to read the epoch of monitor peer "postgres://p": refused']);
    answers = [{ peer: 'postgres://p', epoch: at(2) }];
    await watch.check();
    assert.equal((watch as { readonly blockedBy: PeerEpoch | undefined }).blockedBy?.peer, 'postgres://p');
    assert.match(lines.at(-1) ?? '', /is writable at epoch 2, higher than this monitor's epoch 1: this monitor is stale and stops deciding/);
    await watch.check();
    assert.equal(lines.length, 2);
    answers = [{ peer: 'postgres://p', epoch: at(2, false) }];
    await watch.check();
    assert.equal(watch.blockedBy, undefined);
    assert.match(lines.at(-1) ?? '', /decides again/);
  });

  it('no peers: never blocked, nothing read', async () => {
    let reads = 0;
    const watch = createPeerWatch({ peers: [], log: { info: () => undefined, warn: () => undefined }, ownEpoch: () => 0, read: async () => { reads += 1; return []; } });
    await watch.check();
    assert.equal(reads, 0);
    assert.equal(watch.blockedBy, undefined);
  });

  it('reads the monitor members as peers too, each URI once, as they are at each check', async () => {
    const read: string[][] = [];
    let members: string[] = [];
    const watch = createPeerWatch({
      peers: ['postgres://a'], morePeers: () => members, log: { info: () => undefined, warn: () => undefined }, ownEpoch: () => 1,
      read: async (peers) => { read.push([...peers]); return peers.map((peer) => ({ peer, epoch: at(peer === 'postgres://m2' ? 2 : 1) })); },
    });
    await watch.check();
    assert.equal(watch.blockedBy, undefined);
    members = ['postgres://a', 'postgres://m2'];
    await watch.check();
    assert.deepEqual(read, [['postgres://a'], ['postgres://a', 'postgres://m2']]);
    assert.equal((watch as { readonly blockedBy: PeerEpoch | undefined }).blockedBy?.peer, 'postgres://m2');
  });
});
