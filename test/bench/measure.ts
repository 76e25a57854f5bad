import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Redis } from '@docpipe/core';
import { Cluster } from 'ioredis';

const CLOCK_TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** CPU ms a process has used so far (Linux /proc; utime + stime). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_S;
}

/** One INFO field of each server: the one Redis, or every master of a cluster. */
async function infoField(redis: Redis, section: string, field: string): Promise<number[]> {
  const servers = redis instanceof Cluster ? redis.nodes('master') : [redis];
  return Promise.all(
    servers.map(async (server) => {
      const match = new RegExp(`^${field}:(\\d+)`, 'm').exec(await server.info(section));
      if (!match) throw new Error(`INFO ${section} has no ${field} line`);
      return Number(match[1]);
    }),
  );
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/** `used_memory` from INFO memory, in bytes (summed over a cluster's masters). */
export async function usedMemory(redis: Redis): Promise<number> {
  return sum(await infoField(redis, 'memory', 'used_memory'));
}

/** Commands each server (each master of a cluster) has processed since it started, ours included. */
export function commandsByServer(redis: Redis): Promise<number[]> {
  return infoField(redis, 'stats', 'total_commands_processed');
}

/** Commands processed since start (INFO stats), summed over a cluster's masters. */
export async function commandsProcessed(redis: Redis): Promise<number> {
  return sum(await commandsByServer(redis));
}

/** One sample of a Prometheus metric from a `/metrics` endpoint (the first series of that name). */
export async function scrapeMetric(metricsUrl: string, name: string): Promise<number | null> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : null;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
