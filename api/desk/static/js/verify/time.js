// Instants as the ledger stores them (ISO 8601 with a UTC offset), to the
// microsecond: Python compares datetimes by instant, and so does this.

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2}(?::?\d{2}(?:\.\d{1,6})?)?)?$/;

// {us: BigInt microseconds since the epoch (UTC), text, aware} or null.
export function parseTime(text) {
  if (typeof text !== "string") return null;
  const m = ISO.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s = "0", frac = "", zone] = m;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  const check = new Date(ms);
  if (Number.isNaN(ms) || check.getUTCDate() !== +d || check.getUTCMonth() !== +mo - 1
      || +h > 23 || +mi > 59 || +s > 59) return null;
  let us = BigInt(ms) * 1000n + BigInt(frac.padEnd(6, "0") || "0");
  if (zone && zone !== "Z") {
    const z = /^([+-])(\d{2}):?(\d{2})(?::?(\d{2}))?/.exec(zone);
    const offset = (BigInt(+z[2] * 3600 + +z[3] * 60 + +(z[4] || 0))) * 1000000n;
    us -= z[1] === "-" ? -offset : offset;
  }
  return { us, text, aware: Boolean(zone) };
}

export const isTime = (v) => v !== null && typeof v === "object" && typeof v.us === "bigint";

// Python's == on datetimes: naive and aware are never equal; null is no time.
export function sameTime(a, b) {
  if (!isTime(a) || !isTime(b)) return false;
  return a.aware === b.aware && a.us === b.us;
}

export const le = (a, b) => a.us <= b.us;
export const lt = (a, b) => a.us < b.us;
