// Long series tails travel from the kernel in binary buffers, not as JSON numbers:
// {"buffer": i} stands for buffers[i], little-endian float64 (runwidget/widgets/_transport.py
// `pack_tails`). RunDetails' deltas and a comparison's deltas alike.

/** Binary data of the widget protocol (a DataView, or an ArrayBuffer) as float64s. */
export function float64s(data) {
  if (data instanceof Float64Array) return data;
  if (Array.isArray(data)) return Float64Array.from(data);
  if (data instanceof ArrayBuffer) return new Float64Array(data.slice(0));
  if (data && ArrayBuffer.isView(data)) {
    return new Float64Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }
  return new Float64Array(0);
}

/** Put each tail's points back where a buffer stands for them (the tails are changed). */
export function unpackTails(tails, buffers = []) {
  for (const tail of tails) {
    for (const axis of ["x", "y"]) {
      const ref = tail[axis];
      if (ref && typeof ref === "object" && !Array.isArray(ref) && "buffer" in ref) tail[axis] = float64s(buffers[ref.buffer]);
    }
  }
}
