/**
 * How each Tributary value type is delivered in Arrow: the one mapping retrieval and every
 * offline adapter that builds Arrow columns share.
 */
import { Bool, type DataType, Float64, Int64, TimestampMicrosecond, Utf8 } from 'apache-arrow';
import type { ValueType } from '../definitions/types.ts';

/** The Arrow type a Tributary value type is delivered as. Timestamps are UTC microseconds. */
export function arrowTypeOf(type: ValueType): DataType {
  switch (type) {
    case 'int64':
      return new Int64();
    case 'float64':
      return new Float64();
    case 'string':
      return new Utf8();
    case 'bool':
      return new Bool();
    case 'timestamp':
      return new TimestampMicrosecond('UTC');
  }
}
