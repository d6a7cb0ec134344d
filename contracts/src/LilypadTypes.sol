// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// The deal both sides sign (EIP-712 struct "Deal"). Field order and types mirror protocols/eip712.ts `DealTypes`;
/// a test compares DEAL_TYPEHASH with the TypeScript definition.
struct Deal {
    bytes32 jobOfferId;
    bytes32 resourceOfferId;
    address jobCreator;
    address resourceProvider;
    address[] mediators;
    uint96 price;
    uint96 collateral;
    uint96 mediationFee;
    uint32 auditPpm;
    uint32 resultTimeout;
    uint32 judgeWindow;
    uint32 mediateTimeout;
    uint64 expiry;
    uint64 nonce;
}

/// The job offer a job creator signs (EIP-712 struct "JobOffer"); a deal names it by its EIP-712 digest
/// (`Deal.jobOfferId`). Mirrors protocols/eip712.ts `JobOfferTypes`; the JobManager re-hashes it to bind a
/// contract job's completion to the module and inputs the client asked for.
struct MachineSpec {
    uint32 cpu;
    uint32 ramMb;
    uint32 diskMb;
    uint16 gpus;
    uint32 gpuVramMb;
    string gpuModel;
    uint32 cudaVersion;
}

struct JobOffer {
    address jobCreator;
    string module;
    string inputs;
    MachineSpec spec;
    uint96 maxPrice;
    address[] mediators;
    address target;
    uint32 timeout;
    uint32 auditPpm;
    uint64 expiry;
    uint64 nonce;
}

/// Network-wide limits on a deal's terms, fixed when the Market is deployed (seconds; LP wei for the fee).
struct MarketBounds {
    uint32 minResultTimeout;
    uint32 maxResultTimeout;
    uint32 minJudgeWindow;
    uint32 maxJudgeWindow;
    uint32 minMediateTimeout;
    uint32 maxMediateTimeout;
    /// `agree` is refused when the deal's expiry lies further ahead than this.
    uint32 maxDealTtl;
    uint96 minMediationFee;
}

/// Life of a deal on chain. Values 4..8 are final; a final record is kept (one slot) so a deal id can never be
/// agreed or settled twice and the JobManager can still check its result hash.
library DealStates {
    uint8 internal constant None = 0;
    uint8 internal constant Agreed = 1;
    uint8 internal constant ResultSubmitted = 2;
    uint8 internal constant Challenged = 3;
    uint8 internal constant Settled = 4;
    uint8 internal constant MediatedCorrect = 5;
    uint8 internal constant MediatedWrong = 6;
    uint8 internal constant TimedOutResult = 7;
    uint8 internal constant TimedOutMediation = 8;
}

library DealHashing {
    bytes32 internal constant DEAL_TYPEHASH = keccak256(
        "Deal(bytes32 jobOfferId,bytes32 resourceOfferId,address jobCreator,address resourceProvider,address[] mediators,uint96 price,uint96 collateral,uint96 mediationFee,uint32 auditPpm,uint32 resultTimeout,uint32 judgeWindow,uint32 mediateTimeout,uint64 expiry,uint64 nonce)"
    );

    /// EIP-712 hashStruct(deal), read straight from calldata into scratch memory past the free pointer (nothing is
    /// allocated): the same bytes as `abi.encode(DEAL_TYPEHASH, …, keccak256(abi.encodePacked(mediators)), …)`, for
    /// ~200 gas less than Solidity's encoder per hash. Like Solidity's decoder, it reverts on a field with bits beyond
    /// its type and on a mediators array outside the calldata, so the words hashed are the values the caller uses.
    function structHash(Deal calldata d) internal pure returns (bytes32 h) {
        bytes32 typehash = DEAL_TYPEHASH;
        assembly ("memory-safe") {
            // mediators: an offset relative to the struct, then the length and the words
            let off := calldataload(add(d, 0x80))
            let n := calldataload(add(d, off))
            if or(gt(off, 0xffffffffffffffff), gt(n, 0xffffffffffffffff)) { revert(0, 0) }
            let items := add(add(d, off), 0x20)
            if gt(add(items, shl(5, n)), calldatasize()) { revert(0, 0) }
            let m := mload(0x40)
            let bad := 0
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let w := calldataload(add(items, shl(5, i)))
                bad := or(bad, shr(160, w))
                mstore(add(m, shl(5, i)), w)
            }
            let mediatorsHash := keccak256(m, shl(5, n))
            mstore(m, typehash)
            mstore(add(m, 0x20), calldataload(d)) // jobOfferId
            mstore(add(m, 0x40), calldataload(add(d, 0x20))) // resourceOfferId
            let w := calldataload(add(d, 0x40)) // jobCreator
            bad := or(bad, shr(160, w))
            mstore(add(m, 0x60), w)
            w := calldataload(add(d, 0x60)) // resourceProvider
            bad := or(bad, shr(160, w))
            mstore(add(m, 0x80), w)
            mstore(add(m, 0xa0), mediatorsHash)
            // price, collateral, mediationFee (uint96)
            for { let i := 5 } lt(i, 8) { i := add(i, 1) } {
                w := calldataload(add(d, shl(5, i)))
                bad := or(bad, shr(96, w))
                mstore(add(m, shl(5, add(i, 1))), w)
            }
            // auditPpm, resultTimeout, judgeWindow, mediateTimeout (uint32)
            for { let i := 8 } lt(i, 12) { i := add(i, 1) } {
                w := calldataload(add(d, shl(5, i)))
                bad := or(bad, shr(32, w))
                mstore(add(m, shl(5, add(i, 1))), w)
            }
            // expiry, nonce (uint64)
            for { let i := 12 } lt(i, 14) { i := add(i, 1) } {
                w := calldataload(add(d, shl(5, i)))
                bad := or(bad, shr(64, w))
                mstore(add(m, shl(5, add(i, 1))), w)
            }
            if bad { revert(0, 0) }
            h := keccak256(m, 0x1e0)
        }
    }
}

library JobOfferHashing {
    bytes32 internal constant MACHINE_SPEC_TYPEHASH =
        keccak256("MachineSpec(uint32 cpu,uint32 ramMb,uint32 diskMb,uint16 gpus,uint32 gpuVramMb,string gpuModel,uint32 cudaVersion)");
    bytes32 internal constant JOB_OFFER_TYPEHASH = keccak256(
        "JobOffer(address jobCreator,string module,string inputs,MachineSpec spec,uint96 maxPrice,address[] mediators,address target,uint32 timeout,uint32 auditPpm,uint64 expiry,uint64 nonce)MachineSpec(uint32 cpu,uint32 ramMb,uint32 diskMb,uint16 gpus,uint32 gpuVramMb,string gpuModel,uint32 cudaVersion)"
    );

    /// EIP-712 hashStruct(offer), given the keccak256 of its module and inputs (the caller needs them anyway).
    function structHash(JobOffer calldata o, bytes32 moduleHash, bytes32 inputsHash) internal pure returns (bytes32) {
        MachineSpec calldata s = o.spec;
        bytes32 specHash = keccak256(
            abi.encode(
                MACHINE_SPEC_TYPEHASH, s.cpu, s.ramMb, s.diskMb, s.gpus, s.gpuVramMb, keccak256(bytes(s.gpuModel)), s.cudaVersion
            )
        );
        bytes memory head = abi.encode(
            JOB_OFFER_TYPEHASH, o.jobCreator, moduleHash, inputsHash, specHash, o.maxPrice
        );
        bytes memory tail = abi.encode(
            keccak256(abi.encodePacked(o.mediators)), o.target, o.timeout, o.auditPpm, o.expiry, o.nonce
        );
        return keccak256(bytes.concat(head, tail));
    }
}
