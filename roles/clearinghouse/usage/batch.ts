/**
 * Batches of reports for a verification worker, packed into one buffer that is transferred to the worker rather than
 * copied (see `PoolRequest` in pool.ts).
 */

/** Pack reports into one `PoolRequest` body. */
export function packBatch(items: ReadonlyArray<{ usage: Uint8Array; device: Uint8Array }>) {
  const deviceIndex = new Map<Uint8Array, number>()
  const deviceList: Uint8Array[] = []
  let total = 0
  for (const { usage, device } of items) {
    total += usage.length
    if (!deviceIndex.has(device)) {
      deviceIndex.set(device, deviceList.length)
      deviceList.push(device)
      total += device.length
    }
  }
  const bytes = new Uint8Array(total)
  const spans = new Uint32Array(items.length * 3)
  const devices = new Uint32Array(deviceList.length * 2)
  let at = 0
  for (const [i, device] of deviceList.entries()) {
    bytes.set(device, at)
    devices[2 * i] = at
    devices[2 * i + 1] = device.length
    at += device.length
  }
  for (const [i, { usage, device }] of items.entries()) {
    bytes.set(usage, at)
    spans[3 * i] = at
    spans[3 * i + 1] = usage.length
    spans[3 * i + 2] = deviceIndex.get(device)!
    at += usage.length
  }
  return { bytes, spans, devices }
}

/** The reports of a packed batch, as views into its buffer. */
export function unpackBatch(request: { bytes: Uint8Array; spans: Uint32Array; devices: Uint32Array }) {
  const { bytes, spans, devices } = request
  const registrations = Array.from({ length: devices.length / 2 }, (_, i) =>
    bytes.subarray(devices[2 * i]!, devices[2 * i]! + devices[2 * i + 1]!),
  )
  return Array.from({ length: spans.length / 3 }, (_, i) => ({
    usage: bytes.subarray(spans[3 * i]!, spans[3 * i]! + spans[3 * i + 1]!),
    device: registrations[spans[3 * i + 2]!]!,
    /** The registration's index in the batch. */
    registration: spans[3 * i + 2]!,
  }))
}
