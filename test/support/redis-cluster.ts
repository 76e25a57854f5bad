import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freePort, type PrivateRedis, startRedis, withDirectConnection } from '@docpipe/core';

const run = promisify(execFile);

export interface ClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** How long a master may be silent before its replica takes over (`cluster-node-timeout`). */
  nodeTimeoutMs?: number;
  /** AOF fsync (default `always`: a SIGKILL loses nothing acknowledged). */
  appendfsync?: 'always' | 'everysec';
  /** The address the nodes listen on; default 127.0.0.1. */
  host?: string;
}

export interface PrivateCluster {
  /** How many masters it was created with. */
  masters: number;
  nodes: PrivateRedis[];
  /** Seed URLs for REDIS_CLUSTER_NODES. */
  seeds: string[];
  /** The settings that point docpipe at it, with one queue family per master. */
  env: { REDIS_CLUSTER_NODES: string; REDIS_QUEUE_FAMILIES: string };
  /** The node that serves the key's slot as master now, asked of a live node. */
  masterOf(key: string): Promise<PrivateRedis>;
  /**
   * Waits until every slot has a live master and every live node says the cluster is ok; with
   * `replicas`, also until every master has that many replicas attached.
   */
  waitHealthy(timeoutMs?: number, replicas?: number): Promise<void>;
  /** SIGKILLs a node, as a crash would. */
  kill(node: PrivateRedis): Promise<void>;
  /** Starts a killed node again; it rejoins (a replica, if its slots moved on). */
  restart(node: PrivateRedis): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Redis Cluster of private redis-server processes on free ports (`--cluster-enabled yes`,
 * AOF on), created with `redis-cli --cluster create`: masters first, then their replicas.
 */
export async function startRedisCluster(options: ClusterOptions = {}): Promise<PrivateCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const host = options.host ?? '127.0.0.1';
  const nodes: PrivateRedis[] = [];
  const down = new Set<PrivateRedis>();
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      nodes.push(
        await startRedis({
          appendonly: true,
          ...(options.appendfsync ? { appendfsync: options.appendfsync } : {}),
          host,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-port',
            String(await freePort(host)),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 1000),
          ],
        }),
      );
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `${host}:${node.port}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }

  const ask = <T>(node: PrivateRedis, command: string[]): Promise<T> =>
    withDirectConnection(
      { host, port: node.port },
      async (client) => (await client.call(command[0]!, ...command.slice(1))) as T,
    );
  const live = () => nodes.filter((node) => !down.has(node));

  const cluster: PrivateCluster = {
    masters,
    nodes,
    seeds: nodes.map((node) => node.url),
    env: {
      REDIS_CLUSTER_NODES: nodes.map((node) => node.url).join(','),
      REDIS_QUEUE_FAMILIES: String(masters),
    },
    async masterOf(key) {
      const slot = Number(await ask<number>(live()[0]!, ['CLUSTER', 'KEYSLOT', key]));
      const ranges = await ask<[number, number, [string, number, string]][]>(live()[0]!, [
        'CLUSTER',
        'SLOTS',
      ]);
      const range = ranges.find(([first, last]) => slot >= first && slot <= last);
      const port = range?.[2][1];
      const node = nodes.find((candidate) => candidate.port === port);
      if (!node) throw new Error(`no master serves slot ${slot}`);
      return node;
    },
    async waitHealthy(timeoutMs = 30_000, wantReplicas = 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(
          live().map(async (node) => {
            const info = await ask<string>(node, ['CLUSTER', 'INFO']).catch(() => '');
            const ranges = await ask<[number, number, [string, number]][]>(node, ['CLUSTER', 'SLOTS']).catch(
              () => [],
            );
            const masters = new Set(ranges.map((range) => range[2][1]));
            const liveMasters = [...masters].every((port) => live().some((n) => n.port === port));
            const replicated = ranges.every((range) => range.length - 3 >= wantReplicas);
            return info.includes('cluster_state:ok') && liveMasters && ranges.length > 0 && replicated;
          }),
        );
        if (states.every(Boolean)) return;
        if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async kill(node) {
      down.add(node);
      await node.kill();
    },
    async restart(node) {
      await node.restart();
      down.delete(node);
    },
    async stop() {
      // SIGKILL first: a master's graceful shutdown waits for replicas that are going away too.
      await Promise.all(nodes.map((node) => node.kill()));
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
  await cluster.waitHealthy(30_000, replicas);
  return cluster;
}
