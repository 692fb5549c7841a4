/**
 * `pg_autoctl enable|disable secondary` (spec 04 §6.1).
 */
import type { Command } from 'commander';

export function registerSecondaryCommands(enable: Command, disable: Command): void {
  void enable;
  void disable;
}
