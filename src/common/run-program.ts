import { spawn } from 'node:child_process';
import { AutoctlError, type ErrorCode } from './errors.js';

export interface RunOptions {
  /** Environment for the child; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Milliseconds before the child is killed (SIGKILL) and the run fails. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Text written to the child's stdin, then closed. */
  input?: string;
  /** Error code used when the program fails; PGCTL by default. */
  errorCode?: ErrorCode;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const TAIL = 2000;

/**
 * Runs a program with an argv array (never a shell string) and collects its
 * output. Resolves with the exit code; use {@link runProgramOk} to fail on a
 * non-zero exit with the stderr tail in the error.
 */
export function runProgram(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, [...args], {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      signal: options.signal,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', (error) => {
      if (timer) clearTimeout(timer);
      reject(new AutoctlError(options.errorCode ?? 'PGCTL', `cannot run ${program}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) {
        reject(new AutoctlError(options.errorCode ?? 'PGCTL',
          `${program} did not finish within ${options.timeoutMs} ms${tailOf(stderr)}`));
        return;
      }
      resolve({ exitCode: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => { /* child closed stdin early; its exit code tells the story */ });
    child.stdin.end(options.input ?? '');
  });
}

export async function runProgramOk(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await runProgram(program, args, options);
  if (result.exitCode !== 0) {
    const name = program.split('/').pop() ?? program;
    throw new AutoctlError(options.errorCode ?? 'PGCTL',
      `${name} failed with exit code ${result.exitCode}${tailOf(result.stderr || result.stdout)}`);
  }
  return result;
}

function tailOf(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return '';
  return `: ${trimmed.length > TAIL ? `...${trimmed.slice(-TAIL)}` : trimmed}`;
}
