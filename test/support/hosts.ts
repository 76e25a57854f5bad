import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ip = (...args: string[]) => run('ip', args);

export interface Host {
  /** The network namespace to run its processes in (`ip netns exec`). */
  netns: string;
  /** Its address on the shared bridge. */
  address: string;
  /** Cuts its link: its connections go silent, as when a machine drops off the network. */
  cut(): Promise<void>;
  /** Brings its link back. */
  heal(): Promise<void>;
}

export interface Hosts {
  /** The address of this (the test's) side of the bridge: servers the hosts use listen on it. */
  address: string;
  hosts: Host[];
  close(): Promise<void>;
}

/**
 * Simulated hosts: one network namespace each, joined by a veth pair to a bridge that only this
 * test creates (a private 10.231.x.0/24), with its own loopback. Needs root and iproute2.
 */
export async function createHosts(count: number): Promise<Hosts> {
  const tag = randomInt(0x10000).toString(16).padStart(4, '0');
  const subnet = `10.231.${randomInt(256)}`;
  const bridge = `dp${tag}br`;
  const namespaces: string[] = [];
  const close = async () => {
    for (const netns of namespaces) await ip('netns', 'del', netns).catch(() => {});
    await ip('link', 'del', bridge).catch(() => {});
  };
  try {
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    const hosts: Host[] = [];
    for (let i = 0; i < count; i++) {
      const netns = `dp${tag}h${i}`;
      const outside = `dp${tag}v${i}`;
      const inside = `dp${tag}p${i}`;
      const address = `${subnet}.${10 + i}`;
      await ip('netns', 'add', netns);
      namespaces.push(netns);
      await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
      await ip('link', 'set', inside, 'netns', netns);
      await ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', inside);
      await ip('-n', netns, 'link', 'set', inside, 'up');
      await ip('-n', netns, 'link', 'set', 'lo', 'up');
      await ip('link', 'set', outside, 'master', bridge);
      await ip('link', 'set', outside, 'up');
      hosts.push({
        netns,
        address,
        cut: async () => void (await ip('link', 'set', outside, 'down')),
        heal: async () => void (await ip('link', 'set', outside, 'up')),
      });
    }
    return { address: `${subnet}.1`, hosts, close };
  } catch (error) {
    await close();
    throw new Error(
      `cannot create network namespaces (${error instanceof Error ? error.message : String(error)}): ` +
        'this test needs root and iproute2 (apt-get install iproute2)',
    );
  }
}
