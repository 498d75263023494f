/** Field types as the FlatBuffers schema (schema/sluice.fbs) numbers them, both ways. */

import { DataType as FbDataType } from './fb/sluice/fb.js';
import type { DataType } from './schema.js';

export const TYPE_CODE: Readonly<Record<DataType, FbDataType>> = {
  i32: FbDataType.I32,
  i64: FbDataType.I64,
  f64: FbDataType.F64,
  bool: FbDataType.Bool,
  utf8: FbDataType.Utf8,
  timestamp: FbDataType.Timestamp,
};

/** DataType by FlatBuffers type code. */
export const TYPE_BY_CODE: readonly DataType[] = ['i32', 'i64', 'f64', 'bool', 'utf8', 'timestamp'];
