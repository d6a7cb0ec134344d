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

    /// EIP-712 hashStruct(deal). Split in two abi.encode calls to stay clear of stack-too-deep without via-IR.
    function structHash(Deal calldata d) internal pure returns (bytes32) {
        bytes memory head = abi.encode(
            DEAL_TYPEHASH,
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

/// Implemented by contracts that order jobs through the JobManager.
interface ILilypadJobClient {
    function lilypadJobCompleted(uint256 jobId, bytes32 dealId, string calldata resultCid) external;
    function lilypadJobFailed(uint256 jobId, string calldata reason) external;
}
