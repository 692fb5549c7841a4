/**
 * `pg_autoctl do ...`, the debug tree (spec 04 §13).
 */
import type { Command } from 'commander';

export function registerDoCommands(program: Command): void {
  void program;
}
