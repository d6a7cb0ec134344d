// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Deal, DealHashing} from "lilypad/LilypadTypes.sol";

/// DealHashing.structHash (assembly over calldata) against the plain Solidity encoding it replaced.
contract DealHashHarness {
    function fast(Deal calldata d) external pure returns (bytes32) {
        return DealHashing.structHash(d);
    }

    function reference_(Deal calldata d) external pure returns (bytes32) {
        bytes memory head = abi.encode(
            DealHashing.DEAL_TYPEHASH,
            d.jobOfferId,
            d.resourceOfferId,
            d.jobCreator,
            d.resourceProvider,
            keccak256(abi.encodePacked(d.mediators))
        );
        bytes memory tail = abi.encode(
            d.price, d.collateral, d.mediationFee, d.auditPpm, d.resultTimeout, d.judgeWindow, d.mediateTimeout, d.expiry, d.nonce
        );
        return keccak256(bytes.concat(head, tail));
    }
}

contract DealHashFuzz {
    DealHashHarness internal h = new DealHashHarness();

    function testFuzz_structHashMatchesSolidity(Deal memory d, uint8 extra) public view {
        // mediators as fuzzed, plus up to 7 more derived from the seed, so long arrays are covered too
        address[] memory ms = new address[](d.mediators.length % 9 + extra % 8);
        for (uint256 i; i < ms.length; ++i) {
            ms[i] = i < d.mediators.length ? d.mediators[i] : address(uint160(uint256(keccak256(abi.encode(extra, i)))));
        }
        d.mediators = ms;
        require(h.fast(d) == h.reference_(d), "structHash differs from the Solidity encoding");
    }

    /// A field with bits beyond its type reverts in both (Solidity's decoder on access, the assembly's own check).
    function testFuzz_dirtyFieldReverts(Deal memory d, uint8 field, uint8 bit) public {
        delete d.mediators;
        bytes memory data = abi.encodeCall(DealHashHarness.fast, (d));
        // selector, tuple offset, then the struct's fields; the address, uint96, uint32 and uint64 fields
        uint8[11] memory fields = [2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13];
        uint16[11] memory widths = [uint16(160), 160, 96, 96, 96, 32, 32, 32, 32, 64, 64];
        uint256 k = field % 11;
        uint256 at = 4 + 32 + 32 * uint256(fields[k]);
        uint256 dirtyBit = widths[k] + uint256(bit) % (256 - widths[k]);
        assembly {
            let p := add(add(data, 0x20), at)
            mstore(p, or(mload(p), shl(dirtyBit, 1)))
        }
        (bool ok,) = address(h).staticcall(data);
        require(!ok, "a dirty field was hashed");
    }
}
