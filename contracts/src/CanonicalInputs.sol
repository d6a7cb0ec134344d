// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IJobManager} from "../package/IJobManager.sol";

/// A job's inputs as the canonical JSON a job offer carries: the object of its key/value pairs with keys in
/// ascending order, written exactly as JavaScript's JSON.stringify writes it (protocols/contract-job/inputs.ts
/// `canonicalInputsJson`; a test compares the two on random inputs). Keys are identifiers, so no key needs
/// escaping and none is an array index (which JavaScript would reorder); values must be valid UTF-8 (so no event
/// carries bytes a decoder chokes on, and JSON.stringify never meets a lone surrogate).
library CanonicalInputs {
    function toJson(IJobManager.Input[] calldata inputs, uint256 maxInputs, uint256 maxKeyBytes, uint256 maxValueBytes)
        internal
        pure
        returns (bytes memory out)
    {
        uint256 n = inputs.length;
        if (n > maxInputs) revert IJobManager.TooManyInputs(n, maxInputs);
        // "{" + "}" + a comma between entries + per entry `"key":"value"`
        uint256 size = n == 0 ? 2 : n + 1;
        uint256 valueBytes;
        for (uint256 i; i < n; ++i) {
            bytes calldata key = bytes(inputs[i].key);
            if (!_isKey(key, maxKeyBytes)) revert IJobManager.InvalidInputKey(i);
            if (i > 0 && !_less(bytes(inputs[i - 1].key), key)) revert IJobManager.InputsNotSorted(i);
            bytes calldata value = bytes(inputs[i].value);
            valueBytes += value.length;
            if (valueBytes > maxValueBytes) revert IJobManager.InputsTooLarge(valueBytes, maxValueBytes);
            (uint256 escaped, bool ok) = _escapedLength(value);
            if (!ok) revert IJobManager.InvalidUtf8(i);
            size += key.length + escaped + 5;
        }
        out = new bytes(size);
        uint256 p;
        assembly {
            p := add(out, 0x20)
            mstore8(p, 0x7b) // {
            p := add(p, 1)
        }
        for (uint256 i; i < n; ++i) {
            bytes calldata key = bytes(inputs[i].key);
            bytes calldata value = bytes(inputs[i].value);
            assembly {
                if i {
                    mstore8(p, 0x2c) // ,
                    p := add(p, 1)
                }
                mstore8(p, 0x22)
                calldatacopy(add(p, 1), key.offset, key.length)
                p := add(p, add(key.length, 1))
                mstore8(p, 0x22)
                mstore8(add(p, 1), 0x3a) // :
                mstore8(add(p, 2), 0x22)
                p := add(p, 3)
            }
            p = _writeEscaped(p, value);
            assembly {
                mstore8(p, 0x22)
                p := add(p, 1)
            }
        }
        assembly {
            mstore8(p, 0x7d) // }
        }
    }

    /// [A-Za-z_][A-Za-z0-9_]*, 1..max bytes.
    function _isKey(bytes calldata key, uint256 max) private pure returns (bool) {
        uint256 len = key.length;
        if (len == 0 || len > max) return false;
        for (uint256 j; j < len; ++j) {
            uint8 c = uint8(key[j]);
            bool letter = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
            if (!letter && (j == 0 || c < 0x30 || c > 0x39)) return false;
        }
        return true;
    }

    /// Byte order, which is JavaScript's string order for ASCII keys.
    function _less(bytes calldata a, bytes calldata b) private pure returns (bool) {
        uint256 n = a.length < b.length ? a.length : b.length;
        for (uint256 j; j < n; ++j) {
            if (a[j] != b[j]) return uint8(a[j]) < uint8(b[j]);
        }
        return a.length < b.length;
    }

    /// Length once escaped, and whether `v` is valid UTF-8 (no overlong forms, no surrogates, ≤ U+10FFFF).
    function _escapedLength(bytes calldata v) private pure returns (uint256 len, bool ok) {
        uint256 n = v.length;
        uint256 i;
        while (i < n) {
            uint8 c = uint8(v[i]);
            if (c < 0x80) {
                if (c == 0x22 || c == 0x5c || c == 0x08 || c == 0x09 || c == 0x0a || c == 0x0c || c == 0x0d) len += 2;
                else if (c < 0x20) len += 6;
                else len += 1;
                ++i;
                continue;
            }
            uint256 extra;
            uint8 lo = 0x80;
            uint8 hi = 0xbf;
            if (c >= 0xc2 && c <= 0xdf) {
                extra = 1;
            } else if (c >= 0xe0 && c <= 0xef) {
                extra = 2;
                if (c == 0xe0) lo = 0xa0;
                else if (c == 0xed) hi = 0x9f;
            } else if (c >= 0xf0 && c <= 0xf4) {
                extra = 3;
                if (c == 0xf0) lo = 0x90;
                else if (c == 0xf4) hi = 0x8f;
            } else {
                return (0, false);
            }
            if (i + extra >= n) return (0, false);
            for (uint256 k = 1; k <= extra; ++k) {
                uint8 d = uint8(v[i + k]);
                if (d < lo || d > hi) return (0, false);
                lo = 0x80;
                hi = 0xbf;
            }
            len += extra + 1;
            i += extra + 1;
        }
        return (len, true);
    }

    function _writeEscaped(uint256 p, bytes calldata v) private pure returns (uint256) {
        uint256 n = v.length;
        for (uint256 i; i < n; ++i) {
            uint8 c = uint8(v[i]);
            if (c >= 0x20 && c != 0x22 && c != 0x5c) {
                assembly {
                    mstore8(p, c)
                }
                p += 1;
                continue;
            }
            uint8 short;
            if (c == 0x22) short = 0x22;
            else if (c == 0x5c) short = 0x5c;
            else if (c == 0x08) short = 0x62; // b
            else if (c == 0x09) short = 0x74; // t
            else if (c == 0x0a) short = 0x6e; // n
            else if (c == 0x0c) short = 0x66; // f
            else if (c == 0x0d) short = 0x72; // r
            if (short != 0) {
                assembly {
                    mstore8(p, 0x5c)
                    mstore8(add(p, 1), short)
                }
                p += 2;
            } else {
                // \u00XX with lowercase hex digits, as JSON.stringify writes other control characters
                uint8 h = c >> 4;
                uint8 l = c & 0x0f;
                uint8 hd = h < 10 ? h + 0x30 : h + 0x57;
                uint8 ld = l < 10 ? l + 0x30 : l + 0x57;
                assembly {
                    mstore8(p, 0x5c)
                    mstore8(add(p, 1), 0x75)
                    mstore8(add(p, 2), 0x30)
                    mstore8(add(p, 3), 0x30)
                    mstore8(add(p, 4), hd)
                    mstore8(add(p, 5), ld)
                }
                p += 6;
            }
        }
        return p;
    }
}
