/**
 * WAL histories of the simulated Postgres instances. A position is a
 * timeline (internal id) and an LSN; a promotion starts a new timeline
 * branching off its parent at the promoted position. Reported timeline
 * numbers follow Postgres (parent number + 1), so two branches of one
 * parent get the same number, as they would in reality.
 */
export interface Pos {
  readonly tl: number;
  readonly lsn: number;
}

interface Timeline {
  readonly id: number;
  readonly number: number;
  readonly parent: number | null;
  /** LSN at which this timeline branched off its parent. */
  readonly forkLsn: number;
  readonly sysid: number;
}

export interface Timelines {
  /** A new database lineage (initdb): its first timeline. */
  newSystem(lsn: number): Pos;
  /** Promotion at `pos`: the first position of the new timeline. */
  branch(pos: Pos): Pos;
  number(pos: Pos): number;
  sysid(pos: Pos): number;
  /** a is on b's history (a prefix of b). */
  contains(a: Pos, b: Pos): boolean;
  /** The position with LSN `lsn` on the history ending at `tip` (lsn <= tip.lsn). */
  at(tip: Pos, lsn: number): Pos;
  describe(pos: Pos): string;
}

export function createTimelines(): Timelines {
  const all = new Map<number, Timeline>();
  let nextId = 1;
  let nextSysid = 1;
  const get = (id: number): Timeline => {
    const t = all.get(id);
    if (t === undefined) throw new Error(`unknown timeline ${id}`);
    return t;
  };
  const contains = (a: Pos, b: Pos): boolean => {
    let tl: Timeline | null = get(b.tl);
    let end = b.lsn;
    if (get(a.tl).sysid !== tl.sysid) return false;
    while (tl !== null) {
      if (tl.id === a.tl) return a.lsn <= end;
      end = Math.min(end, tl.forkLsn);
      tl = tl.parent === null ? null : get(tl.parent);
    }
    return false;
  };
  return {
    newSystem(lsn) {
      const t: Timeline = { id: nextId++, number: 1, parent: null, forkLsn: 0, sysid: nextSysid++ };
      all.set(t.id, t);
      return { tl: t.id, lsn };
    },
    branch(pos) {
      const parent = get(pos.tl);
      const t: Timeline = { id: nextId++, number: parent.number + 1, parent: parent.id, forkLsn: pos.lsn, sysid: parent.sysid };
      all.set(t.id, t);
      return { tl: t.id, lsn: pos.lsn };
    },
    number: (pos) => get(pos.tl).number,
    sysid: (pos) => get(pos.tl).sysid,
    contains,
    at(tip, lsn) {
      // Walk from the tip towards the root: the oldest timeline whose range still covers lsn.
      let tl = get(tip.tl);
      while (tl.parent !== null && lsn <= tl.forkLsn) tl = get(tl.parent);
      return { tl: tl.id, lsn };
    },
    describe(pos) {
      const t = get(pos.tl);
      return `tl${t.number}#${t.id}/${(pos.lsn / 1048576).toFixed(2)}M`;
    },
  };
}
