// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Deal, DealStates, DealHashing, MarketBounds} from "./LilypadTypes.sol";
import {Directory} from "./Directory.sol";

/// Escrow and the deal state machine.
///
/// Funds: a deposit ledger; a live deal's locked amounts are not stored, they are implied by the deal's terms
/// (price + mediationFee from the job creator, collateral from the provider), so the invariant is
/// token.balanceOf(this) == Σ deposits + Σ over live deals of (price + mediationFee + collateral).
///
/// Gas: a deal is one storage slot (state, time of the last transition, selected mediator's index, 200 bits of the
/// result CID's hash). Every later call carries the full Deal as calldata and is found by re-hashing it, so the
/// terms are never written to storage. Each step's deadline is `since + <window from the deal>`: an action is
/// allowed while block.timestamp <= deadline, the matching timeout once block.timestamp > deadline.
///
/// Network-wide bounds on the terms (fixed at deployment, see `bounds()`): every window has a minimum and a maximum,
/// a deal can be agreed only while its expiry is at most `maxDealTtl` ahead, and an audited deal must pay its
/// mediator. They make a deal whose windows nobody can meet (a zero result window that lets the job creator take the
/// provider's collateral in the next block) impossible to agree, whatever the two parties signed. They are
/// immutable: a deal is signed against these rules, and a Market with no owner has no key that could change them.
contract Market is EIP712 {
    using SafeERC20 for IERC20;

    struct DealRecord {
        uint8 state;
        uint40 since;
        uint8 mediatorIndex;
        bytes25 resultHash; // top 200 bits of keccak256(bytes(resultCid)); 2^100 collision work is plenty
    }

    uint256 internal constant PPM = 1_000_000;
    uint8 public constant TIMEOUT_RESULT = 0;
    uint8 public constant TIMEOUT_MEDIATION = 1;
    /// EIP-712 type of a job creator's acceptance given off chain (protocols/eip712.ts `AcceptTypes`).
    bytes32 public constant ACCEPT_TYPEHASH = keccak256("Accept(bytes32 dealId,string resultCid)");

    IERC20 public immutable token;
    Directory public immutable directory;

    uint32 internal immutable minResultTimeout;
    uint32 internal immutable maxResultTimeout;
    uint32 internal immutable minJudgeWindow;
    uint32 internal immutable maxJudgeWindow;
    uint32 internal immutable minMediateTimeout;
    uint32 internal immutable maxMediateTimeout;
    uint32 internal immutable maxDealTtl;
    uint96 internal immutable minMediationFee;

    mapping(address => uint256) public deposits;
    mapping(bytes32 => DealRecord) public deals;
    /// Job creator => nonce word => bitmap; nonces need not be sequential, but sequential ones share a word.
    mapping(address => mapping(uint256 => uint256)) public nonceBitmap;

    event Deposited(address indexed account, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event DealAgreed(
        bytes32 indexed dealId,
        address indexed jobCreator,
        address indexed resourceProvider,
        uint96 price,
        uint96 collateral,
        uint96 mediationFee
    );
    event ResultSubmitted(bytes32 indexed dealId, address indexed resourceProvider, string resultCid, bool audited);
    event DealChallenged(bytes32 indexed dealId, address indexed jobCreator, address indexed mediator, bool audit);
    event DealMediated(
        bytes32 indexed dealId, address indexed mediator, address indexed resourceProvider, bool resultCorrect
    );
    event DealSettled(
        bytes32 indexed dealId, address indexed jobCreator, address indexed resourceProvider, bool acceptedEarly
    );
    event DealTimedOut(
        bytes32 indexed dealId, address indexed jobCreator, address indexed resourceProvider, uint8 which
    );
    event BoundsSet(MarketBounds bounds);

    error ZeroAmount();
    error InsufficientBalance(address account, uint256 needed, uint256 available);
    error InvalidSignature(address signer);
    error DealExpired(uint64 expiry, uint256 now_);
    error NonceUsed(address jobCreator, uint64 nonce);
    error DealExists(bytes32 dealId);
    error NoMediators();
    error TooManyMediators(uint256 count);
    error NotAMediator(address mediator);
    error CollateralBelowFee(uint96 collateral, uint96 mediationFee);
    error UnknownDeal(bytes32 dealId);
    error DealClosed(bytes32 dealId, uint8 state);
    error WrongState(bytes32 dealId, uint8 state);
    error NotResourceProvider(address caller);
    error NotJobCreator(address caller);
    error NotSelectedMediator(address caller, address selected);
    error EmptyResultCid();
    error ResultWindowClosed(uint256 deadline);
    error ResultWindowOpen(uint256 deadline);
    error JudgeWindowClosed(uint256 deadline);
    error JudgeWindowOpen(uint256 deadline);
    error MediationWindowClosed(uint256 deadline);
    error MediationWindowOpen(uint256 deadline);
    error DealExpiryTooFar(uint64 expiry, uint256 latest);
    error ResultTimeoutOutOfBounds(uint32 value, uint32 min, uint32 max);
    error JudgeWindowOutOfBounds(uint32 value, uint32 min, uint32 max);
    error MediateTimeoutOutOfBounds(uint32 value, uint32 min, uint32 max);
    error AuditPpmTooHigh(uint32 auditPpm);
    error MediationFeeTooLow(uint96 mediationFee, uint96 min);
    error AuditWithoutFee();
    error InvalidBounds();

    constructor(IERC20 token_, Directory directory_, MarketBounds memory b) EIP712("Lilypad", "1") {
        if (
            b.minResultTimeout == 0 || b.minResultTimeout > b.maxResultTimeout || b.minJudgeWindow == 0
                || b.minJudgeWindow > b.maxJudgeWindow || b.minMediateTimeout == 0
                || b.minMediateTimeout > b.maxMediateTimeout || b.maxDealTtl == 0
        ) revert InvalidBounds();
        token = token_;
        directory = directory_;
        minResultTimeout = b.minResultTimeout;
        maxResultTimeout = b.maxResultTimeout;
        minJudgeWindow = b.minJudgeWindow;
        maxJudgeWindow = b.maxJudgeWindow;
        minMediateTimeout = b.minMediateTimeout;
        maxMediateTimeout = b.maxMediateTimeout;
        maxDealTtl = b.maxDealTtl;
        minMediationFee = b.minMediationFee;
        emit BoundsSet(b);
    }

    /// The network-wide bounds every deal's terms must satisfy at `agree`.
    function bounds() external view returns (MarketBounds memory) {
        return MarketBounds(
            minResultTimeout,
            maxResultTimeout,
            minJudgeWindow,
            maxJudgeWindow,
            minMediateTimeout,
            maxMediateTimeout,
            maxDealTtl,
            minMediationFee
        );
    }

    // ---- ledger ----

    function deposit(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        token.safeTransferFrom(msg.sender, address(this), amount);
        deposits[msg.sender] += amount;
        emit Deposited(msg.sender, amount);
    }

    /// The permit may already have been used by someone who saw it in the mempool; the transfer then still works
    /// off the allowance it set, so a failed permit is not fatal (OZ's recommended pattern).
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external {
        if (amount == 0) revert ZeroAmount();
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        token.safeTransferFrom(msg.sender, address(this), amount);
        deposits[msg.sender] += amount;
        emit Deposited(msg.sender, amount);
    }

    function withdraw(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        _debit(msg.sender, amount);
        token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // ---- ids ----

    /// The deal's id: its EIP-712 digest under this Market's domain (protocols/eip712.ts `idOf('Deal', …)`).
    function dealId(Deal calldata deal) public view returns (bytes32) {
        return _hashTypedDataV4(DealHashing.structHash(deal));
    }

    function dealTypeHash() external pure returns (bytes32) {
        return DealHashing.DEAL_TYPEHASH;
    }

    function isNonceUsed(address jobCreator, uint64 nonce) public view returns (bool) {
        return nonceBitmap[jobCreator][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    // ---- the deal's life ----

    function agree(Deal calldata deal, bytes calldata jobCreatorSig, bytes calldata providerSig)
        external
        returns (bytes32 id)
    {
        if (block.timestamp > deal.expiry) revert DealExpired(deal.expiry, block.timestamp);
        _checkBounds(deal);
        uint256 nMediators = deal.mediators.length;
        if (nMediators == 0) revert NoMediators();
        if (nMediators > type(uint8).max) revert TooManyMediators(nMediators);
        for (uint256 i; i < nMediators; ++i) {
            if (!directory.isMediator(deal.mediators[i])) revert NotAMediator(deal.mediators[i]);
        }
        if (deal.collateral < deal.mediationFee) revert CollateralBelowFee(deal.collateral, deal.mediationFee);

        id = dealId(deal);
        // The sender's own signature is not asked for: sending this transaction is its consent to exactly these
        // terms (a contract wallet's too), so the provider that agrees, as `lilypad run`'s does, passes an empty one.
        if (msg.sender != deal.jobCreator && !_signedBy(deal.jobCreator, id, jobCreatorSig)) {
            revert InvalidSignature(deal.jobCreator);
        }
        if (msg.sender != deal.resourceProvider && !_signedBy(deal.resourceProvider, id, providerSig)) {
            revert InvalidSignature(deal.resourceProvider);
        }

        uint256 word = deal.nonce >> 8;
        uint256 bit = 1 << (deal.nonce & 0xff);
        uint256 bitmap = nonceBitmap[deal.jobCreator][word];
        if (bitmap & bit != 0) revert NonceUsed(deal.jobCreator, deal.nonce);
        nonceBitmap[deal.jobCreator][word] = bitmap | bit;

        DealRecord storage rec = deals[id];
        if (rec.state != DealStates.None) revert DealExists(id);

        _debit(deal.jobCreator, uint256(deal.price) + deal.mediationFee);
        _debit(deal.resourceProvider, deal.collateral);
        rec.state = DealStates.Agreed;
        rec.since = uint40(block.timestamp);
        emit DealAgreed(id, deal.jobCreator, deal.resourceProvider, deal.price, deal.collateral, deal.mediationFee);
    }

    function submitResult(Deal calldata deal, string calldata resultCid) public {
        _submit(deal, resultCid, DealStates.ResultSubmitted);
    }

    /// The result together with the job creator's acceptance of exactly that result, signed off chain (EIP-712
    /// `Accept(dealId, resultCid)` under this Market's domain): the deal is settled at once, as `accept` would, so a
    /// job costs agree plus this one transaction. The acceptance replaces the job creator's judgement, not the
    /// audit: an audited submission goes to mediation all the same. A signature can settle only the deal and the
    /// result it names, on this chain and this Market, and only once (the deal is then closed).
    function submitAcceptedResult(Deal calldata deal, string calldata resultCid, bytes calldata acceptance) external {
        (bytes32 id, bool audited, bytes32 cidKeccak) = _submit(deal, resultCid, DealStates.Settled);
        if (!_signedBy(deal.jobCreator, _acceptanceDigest(id, cidKeccak), acceptance)) {
            revert InvalidSignature(deal.jobCreator);
        }
        if (!audited) _payOutSettled(id, deal, true);
    }

    /// What a job creator signs to accept a result off chain (protocols/eip712.ts `idOf('Accept', …)`).
    function acceptanceDigest(bytes32 id, string calldata resultCid) external view returns (bytes32) {
        return _acceptanceDigest(id, keccak256(bytes(resultCid)));
    }

    function _acceptanceDigest(bytes32 id, bytes32 cidKeccak) internal view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(ACCEPT_TYPEHASH, id, cidKeccak)));
    }

    /// A provider's usual call: submit this deal's result and settle its earlier deals whose judge windows have
    /// passed, so a busy provider needs no settlement transaction of its own (2 transactions per job).
    function submitResultAndSettle(Deal calldata deal, string calldata resultCid, Deal[] calldata ready) external {
        submitResult(deal, resultCid);
        settle(ready);
    }

    /// Early release by the job creator: everything it lists must be its own deals with a result.
    function accept(Deal[] calldata batch) external {
        for (uint256 i; i < batch.length; ++i) {
            Deal calldata deal = batch[i];
            if (msg.sender != deal.jobCreator) revert NotJobCreator(msg.sender);
            (bytes32 id,) = _open(deal, DealStates.ResultSubmitted);
            _closeAsSettled(id, deal, true);
        }
    }

    /// Anyone may settle deals whose judge window has passed (the provider usually does, to get paid).
    function settle(Deal[] calldata batch) public {
        for (uint256 i; i < batch.length; ++i) {
            Deal calldata deal = batch[i];
            (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.ResultSubmitted);
            uint256 deadline = uint256(rec.since) + deal.judgeWindow;
            if (block.timestamp <= deadline) revert JudgeWindowOpen(deadline);
            _closeAsSettled(id, deal, false);
        }
    }

    /// The fee is already locked at agreement, so a challenge costs nothing more; the mediator is drawn now, from
    /// randomness that did not exist when the deal was signed.
    function challenge(Deal calldata deal) external {
        if (msg.sender != deal.jobCreator) revert NotJobCreator(msg.sender);
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.ResultSubmitted);
        uint256 deadline = uint256(rec.since) + deal.judgeWindow;
        if (block.timestamp > deadline) revert JudgeWindowClosed(deadline);
        rec.state = DealStates.Challenged;
        rec.since = uint40(block.timestamp);
        rec.mediatorIndex = _drawMediator(id, deal.mediators.length);
        deals[id] = rec;
        emit DealChallenged(id, msg.sender, deal.mediators[rec.mediatorIndex], false);
    }

    function mediate(Deal calldata deal, bool resultCorrect) external {
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.Challenged);
        address mediator = deal.mediators[rec.mediatorIndex];
        if (msg.sender != mediator) revert NotSelectedMediator(msg.sender, mediator);
        uint256 deadline = uint256(rec.since) + deal.mediateTimeout;
        if (block.timestamp > deadline) revert MediationWindowClosed(deadline);
        if (resultCorrect) {
            rec.state = DealStates.MediatedCorrect;
            deposits[deal.resourceProvider] += uint256(deal.price) + deal.collateral;
        } else {
            // The mediator's fee comes out of the slashed collateral; the job creator gets everything else back.
            rec.state = DealStates.MediatedWrong;
            deposits[deal.jobCreator] += uint256(deal.price) + deal.collateral;
        }
        _creditFee(mediator, deal.mediationFee);
        deals[id].state = rec.state;
        emit DealMediated(id, mediator, deal.resourceProvider, resultCorrect);
    }

    /// No result in time: the provider was at fault and forfeits its collateral to the job creator.
    function timeoutResult(Deal calldata deal) external {
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.Agreed);
        uint256 deadline = uint256(rec.since) + deal.resultTimeout;
        if (block.timestamp <= deadline) revert ResultWindowOpen(deadline);
        deals[id].state = DealStates.TimedOutResult;
        deposits[deal.jobCreator] += uint256(deal.price) + deal.mediationFee + deal.collateral;
        emit DealTimedOut(id, deal.jobCreator, deal.resourceProvider, TIMEOUT_RESULT);
    }

    /// No verdict in time: the mediator was at fault, so the result stands and the job creator gets its fee back.
    function timeoutMediation(Deal calldata deal) external {
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.Challenged);
        uint256 deadline = uint256(rec.since) + deal.mediateTimeout;
        if (block.timestamp <= deadline) revert MediationWindowOpen(deadline);
        deals[id].state = DealStates.TimedOutMediation;
        deposits[deal.resourceProvider] += uint256(deal.price) + deal.collateral;
        _creditFee(deal.jobCreator, deal.mediationFee);
        emit DealTimedOut(id, deal.jobCreator, deal.resourceProvider, TIMEOUT_MEDIATION);
    }

    // ---- internals ----

    /// Checked in this order (protocols/settlement/market.ts mirrors it, so the same error wins).
    function _checkBounds(Deal calldata deal) internal view {
        if (deal.expiry > block.timestamp + maxDealTtl) revert DealExpiryTooFar(deal.expiry, block.timestamp + maxDealTtl);
        if (deal.resultTimeout < minResultTimeout || deal.resultTimeout > maxResultTimeout) {
            revert ResultTimeoutOutOfBounds(deal.resultTimeout, minResultTimeout, maxResultTimeout);
        }
        if (deal.judgeWindow < minJudgeWindow || deal.judgeWindow > maxJudgeWindow) {
            revert JudgeWindowOutOfBounds(deal.judgeWindow, minJudgeWindow, maxJudgeWindow);
        }
        if (deal.mediateTimeout < minMediateTimeout || deal.mediateTimeout > maxMediateTimeout) {
            revert MediateTimeoutOutOfBounds(deal.mediateTimeout, minMediateTimeout, maxMediateTimeout);
        }
        if (deal.auditPpm > PPM) revert AuditPpmTooHigh(deal.auditPpm);
        if (deal.mediationFee < minMediationFee) revert MediationFeeTooLow(deal.mediationFee, minMediationFee);
        // An audit sends the result to a mediator; a mediator paid nothing has no reason to answer.
        if (deal.auditPpm != 0 && deal.mediationFee == 0) revert AuditWithoutFee();
    }

    function _open(Deal calldata deal, uint8 expected) internal view returns (bytes32 id, DealRecord memory rec) {
        id = dealId(deal);
        rec = deals[id];
        if (rec.state != expected) {
            if (rec.state == DealStates.None) revert UnknownDeal(id);
            if (rec.state >= DealStates.Settled) revert DealClosed(id, rec.state);
            revert WrongState(id, rec.state);
        }
    }

    /// Every submission's checks, in this order; the record moves to `unaudited` (ResultSubmitted, or Settled for
    /// an accepted result, whose caller pays it out) or, when the audit draw hits, to Challenged. Returns the CID's
    /// whole keccak256 too (an acceptance's digest needs it).
    function _submit(Deal calldata deal, string calldata resultCid, uint8 unaudited)
        internal
        returns (bytes32 id, bool audited, bytes32 cidKeccak)
    {
        if (msg.sender != deal.resourceProvider) revert NotResourceProvider(msg.sender);
        if (bytes(resultCid).length == 0) revert EmptyResultCid();
        DealRecord memory rec;
        (id, rec) = _open(deal, DealStates.Agreed);
        uint256 deadline = uint256(rec.since) + deal.resultTimeout;
        if (block.timestamp > deadline) revert ResultWindowClosed(deadline);

        cidKeccak = keccak256(bytes(resultCid));
        bytes25 resultHash = bytes25(cidKeccak);
        audited = deal.auditPpm != 0
            && uint256(keccak256(abi.encode(block.prevrandao, id, resultHash))) % PPM < deal.auditPpm;
        rec.since = uint40(block.timestamp);
        rec.resultHash = resultHash;
        if (audited) {
            rec.state = DealStates.Challenged;
            rec.mediatorIndex = _drawMediator(id, deal.mediators.length);
        } else {
            rec.state = unaudited;
        }
        deals[id] = rec;
        emit ResultSubmitted(id, msg.sender, resultCid, audited);
        if (audited) emit DealChallenged(id, deal.jobCreator, deal.mediators[rec.mediatorIndex], true);
    }

    function _closeAsSettled(bytes32 id, Deal calldata deal, bool early) internal {
        deals[id].state = DealStates.Settled;
        _payOutSettled(id, deal, early);
    }

    function _payOutSettled(bytes32 id, Deal calldata deal, bool early) internal {
        deposits[deal.resourceProvider] += uint256(deal.price) + deal.collateral;
        _creditFee(deal.jobCreator, deal.mediationFee);
        emit DealSettled(id, deal.jobCreator, deal.resourceProvider, early);
    }

    /// An ECDSA signature by `signer`'s own key, else (a contract wallet) its ERC-1271 answer. The key is tried first:
    /// OpenZeppelin's isValidSignatureNow asks for the signer's code size first, 2,600 gas for the job creator's
    /// account, cold in every transaction, to learn what a valid ECDSA signature proves anyway (only the holder of
    /// the key behind an address can make one; an EIP-7702 account's key is its owner). An ECDSA signature may come in
    /// EIP-2098's 64 bytes (r, then yParity in s's top bit): ~140 gas less calldata than 65 bytes padded to 96. Either
    /// form of the same signature is accepted; nothing here keys on the signature's bytes, so that opens no replay.
    function _signedBy(address signer, bytes32 digest, bytes calldata signature) internal view returns (bool) {
        address recovered;
        ECDSA.RecoverError err;
        if (signature.length == 64) {
            bytes32 r;
            bytes32 vs;
            assembly ("memory-safe") {
                r := calldataload(signature.offset)
                vs := calldataload(add(signature.offset, 0x20))
            }
            (recovered, err,) = ECDSA.tryRecover(digest, r, vs);
        } else {
            (recovered, err,) = ECDSA.tryRecoverCalldata(digest, signature);
        }
        if (err == ECDSA.RecoverError.NoError && recovered == signer) return true;
        return SignatureChecker.isValidERC1271SignatureNowCalldata(signer, digest, signature);
    }

    /// A mediation fee is often 0 (the default terms): crediting 0 would still read the account's cold slot (2,200 gas).
    function _creditFee(address account, uint96 fee) internal {
        if (fee != 0) deposits[account] += fee;
    }

    function _debit(address account, uint256 amount) internal {
        uint256 available = deposits[account];
        if (available < amount) revert InsufficientBalance(account, amount, available);
        unchecked {
            deposits[account] = available - amount;
        }
    }

    /// prevrandao is known to the block proposer, who could bias the draw by withholding a block; acceptable while
    /// mediators are owner-approved (see docs/contracts.md).
    function _drawMediator(bytes32 id, uint256 n) internal view returns (uint8) {
        return uint8(uint256(keccak256(abi.encode(block.prevrandao, id))) % n);
    }
}
