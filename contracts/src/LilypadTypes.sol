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
    /// keccak256(secret): the job creator's share of the randomness that draws a dispute's committee, revealed only
    /// in a dispute (Market.revealSeed; docs/mediation.md, "Unbiasable draws")
    bytes32 seedCommit;
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

/// How a dispute is judged by a committee of mediators (protocols/settlement/committee.ts), fixed when the Market is
/// deployed. A deal naming n mediators is judged by min(size, n) of them, made odd; a committee of one is the single
/// mediator of `mediate`/`timeoutMediation`, so `size` 1 turns committees off.
struct CommitteeRules {
    /// odd, 1..9
    uint8 size;
    /// seconds from the draw in which every member commits its hidden vote
    uint32 commitWindow;
    /// seconds, from the end of the commit phase, in which members reveal
    uint32 revealWindow;
    /// seconds a bond being withdrawn stays slashable; longer than any deal's life
    uint32 unbondDelay;
    /// LP wei every mediator named in a committee deal must have bonded at agreement
    uint96 minBond;
    /// LP wei a member loses for a vote against the majority or no vote (at most its bond)
    uint96 slash;
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

    /// EIP-712 hashStruct(deal), copied straight from calldata into scratch memory past the free pointer (nothing is
    /// allocated): the same bytes as `abi.encode(DEAL_TYPEHASH, …, keccak256(abi.encodePacked(mediators)), …)`, for
    /// ~1,900 gas less per hash than Solidity's encoder (measured). Like Solidity's decoder, it reverts on a field with
    /// bits beyond its type and on a mediators array outside the calldata, so the words hashed are the values the
    /// caller uses. The Deal's head is its 14 fields in order, the mediators as an offset (from the head) to length +
    /// words.
    function structHash(Deal calldata d) internal pure returns (bytes32 h) {
        bytes32 typehash = DEAL_TYPEHASH;
        assembly ("memory-safe") {
            let off := calldataload(add(d, 0x80))
            let n := calldataload(add(d, off))
            if or(gt(off, 0xffffffffffffffff), gt(n, 0xffffffffffffffff)) { revert(0, 0) }
            let items := add(add(d, off), 0x20)
            let size := shl(5, n)
            if gt(add(items, size), calldatasize()) { revert(0, 0) }
            let m := mload(0x40)
            calldatacopy(m, items, size)
            let bad := 0
            for { let p := m } lt(p, add(m, size)) { p := add(p, 0x20) } { bad := or(bad, shr(160, mload(p))) }
            let mediatorsHash := keccak256(m, size)
            // jobCreator, resourceProvider: address; price, collateral, mediationFee: uint96; auditPpm and the three
            // windows: uint32; expiry, nonce: uint64
            bad := or(bad, or(shr(160, calldataload(add(d, 0x40))), shr(160, calldataload(add(d, 0x60)))))
            bad := or(bad, or(shr(96, calldataload(add(d, 0xa0))), shr(96, calldataload(add(d, 0xc0)))))
            bad := or(bad, or(shr(96, calldataload(add(d, 0xe0))), shr(32, calldataload(add(d, 0x100)))))
            bad := or(bad, or(shr(32, calldataload(add(d, 0x120))), shr(32, calldataload(add(d, 0x140)))))
            bad := or(bad, or(shr(32, calldataload(add(d, 0x160))), shr(64, calldataload(add(d, 0x180)))))
            bad := or(bad, shr(64, calldataload(add(d, 0x1a0))))
            if bad { revert(0, 0) }
            mstore(m, typehash)
            calldatacopy(add(m, 0x20), d, 0x1c0)
            mstore(add(m, 0xa0), mediatorsHash)
            h := keccak256(m, 0x1e0)
        }
    }
}

library JobOfferHashing {
    bytes32 internal constant MACHINE_SPEC_TYPEHASH =
        keccak256("MachineSpec(uint32 cpu,uint32 ramMb,uint32 diskMb,uint16 gpus,uint32 gpuVramMb,string gpuModel,uint32 cudaVersion)");
    bytes32 internal constant JOB_OFFER_TYPEHASH = keccak256(
        "JobOffer(address jobCreator,string module,string inputs,MachineSpec spec,uint96 maxPrice,address[] mediators,address target,uint32 timeout,uint32 auditPpm,uint64 expiry,uint64 nonce,bytes32 seedCommit)MachineSpec(uint32 cpu,uint32 ramMb,uint32 diskMb,uint16 gpus,uint32 gpuVramMb,string gpuModel,uint32 cudaVersion)"
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
            keccak256(abi.encodePacked(o.mediators)), o.target, o.timeout, o.auditPpm, o.expiry, o.nonce, o.seedCommit
        );
        return keccak256(bytes.concat(head, tail));
    }
}

/// The parties' offers as a dispute's seed reveal names them: a deal names its job offer and its resource offer by
/// their EIP-712 ids, and each offer ends with `bytes32 seedCommit` = keccak256(secret). A reveal passes the offer's
/// encoded field words before that commitment (strings, arrays and the MachineSpec as their hashes, as EIP-712
/// encodes them): 11 for a JobOffer, 9 for a ResourceOffer. Mirrors protocols/eip712.ts; a test compares the type
/// hashes with the TypeScript definitions.
library OfferHashing {
    bytes32 internal constant RESOURCE_OFFER_TYPEHASH = keccak256(
        "ResourceOffer(address provider,uint32 slot,MachineSpec spec,string[] modules,uint96 price,uint96 collateral,address[] mediators,uint64 expiry,uint64 nonce,bytes32 seedCommit)MachineSpec(uint32 cpu,uint32 ramMb,uint32 diskMb,uint16 gpus,uint32 gpuVramMb,string gpuModel,uint32 cudaVersion)"
    );
    uint256 internal constant JOB_OFFER_WORDS = 11;
    uint256 internal constant RESOURCE_OFFER_WORDS = 9;

    /// hashStruct of the offer whose fields before the commitment are `words` and whose commitment is keccak256(secret)
    function structHash(bool resourceOffer, bytes32[] calldata words, bytes32 secret) internal pure returns (bytes32 h) {
        bytes32 typehash = resourceOffer ? RESOURCE_OFFER_TYPEHASH : JobOfferHashing.JOB_OFFER_TYPEHASH;
        // typehash, the words, keccak256(secret), laid out past the free pointer (nothing is allocated)
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, secret)
            let commit := keccak256(m, 0x20)
            mstore(m, typehash)
            let size := shl(5, words.length)
            calldatacopy(add(m, 0x20), words.offset, size)
            mstore(add(add(m, 0x20), size), commit)
            h := keccak256(m, add(size, 0x40))
        }
    }
}
