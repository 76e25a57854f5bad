import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';

const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** CPU ms a process has used so far (Linux /proc; utime + stime). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

/** `used_memory` from INFO memory, in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory line');
  return Number(match[1]);
}

/** Commands the server has processed since it started (INFO stats), ours included. */
export async function commandsProcessed(redis: Redis): Promise<number> {
  const match = /^total_commands_processed:(\d+)/m.exec(await redis.info('stats'));
  if (!match) throw new Error('INFO stats has no total_commands_processed line');
  return Number(match[1]);
}

/** One sample of a Prometheus metric from a `/metrics` endpoint (the first series of that name). */
export async function scrapeMetric(metricsUrl: string, name: string): Promise<number | null> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
