/**
 * `pg_autoctl enable|disable ssl` (spec 04 §6.3).
 */
import type { Command } from 'commander';

export function registerSslCommands(enable: Command, disable: Command): void {
  void enable;
  void disable;
}
