/** The CRC16 key-slot function ioredis routes cluster commands with (the package ships no types). */
declare module 'cluster-key-slot' {
  /** The cluster slot (0–16383) of a key, honouring its {hash tag}. */
  export default function keySlot(key: string): number;
}
