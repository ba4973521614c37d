import type { CreateOptions } from "../../options.js";
import type { ClusterRecord, ClusterView, ProfileRecord } from "./types.js";

/**
 * Rows as both engines store them (JSON columns as text) and their conversion to records: one
 * table layout, written once for SQLite and PostgreSQL.
 */
export interface ProfileRow extends Omit<ProfileRecord, "public_keys"> {
  public_keys: string | null;
}
export interface ClusterRow extends Omit<ClusterRecord, "options" | "result" | "reasons"> {
  options: string;
  result: string | null;
  reasons: string;
}
export interface ViewRow extends Omit<ClusterView, "result_json" | "reasons_json" | "image_warning_json"> {
  result: string | null;
  reasons: string;
  image_warning: string | null;
}

export const now = (): string => new Date().toISOString();

/** Prefer a cluster that still exists over a deleted one of the same name, then the newest. */
export const newestFirst = "ORDER BY (status = 'deleted'), id DESC LIMIT 1";

export function toProfile(row: ProfileRow | undefined): ProfileRecord | undefined {
  if (!row) return undefined;
  return { ...row, public_keys: row.public_keys ? (JSON.parse(row.public_keys) as string[]) : null };
}

/** The record of a cluster row; the list query's columns (superseded, channel, arch) stay out. */
export function toCluster(row: ClusterRow | undefined): ClusterRecord | undefined {
  if (!row) return undefined;
  const {
    superseded: _superseded,
    channel: _channel,
    arch: _arch,
    ...rest
  } = row as ClusterRow & {
    superseded?: number;
    channel?: string | null;
    arch?: string | null;
  };
  return {
    ...rest,
    options: JSON.parse(row.options) as CreateOptions,
    result: row.result === null ? null : (JSON.parse(row.result) as unknown),
    reasons: JSON.parse(row.reasons) as string[],
  };
}
