// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Deal, DealStates, DealHashing, MarketBounds, CommitteeRules, OfferHashing} from "./LilypadTypes.sol";
import {Directory} from "./Directory.sol";
import {MarketState} from "./MarketState.sol";
import {MarketCommittee} from "./MarketCommittee.sol";

/// Escrow and the deal state machine.
///
/// Funds: a deposit ledger; a live deal's locked amounts are not stored, they are implied by the deal's terms
/// (price + mediationFee from the job creator, collateral from the provider), so the invariant is
/// token.balanceOf(this) == Σ deposits + Σ over live deals of (price + mediationFee + collateral).
///
/// Gas: a deal is one storage slot (state, time and block of the last transition, selected mediator's index or a
/// submission's audit flags, 176 bits of the result CID's hash). Every later call carries the full Deal as calldata and is found by re-hashing it, so the
/// terms are never written to storage. Each step's deadline is `since + <window from the deal>`: an action is
/// allowed while block.timestamp <= deadline, the matching timeout once block.timestamp > deadline.
///
/// Network-wide bounds on the terms (fixed at deployment, see `bounds()`): every window has a minimum and a maximum,
/// a deal can be agreed only while its expiry is at most `maxDealTtl` ahead, and an audited deal must pay its
/// mediator. They make a deal whose windows nobody can meet (a zero result window that lets the job creator take the
/// provider's collateral in the next block) impossible to agree, whatever the two parties signed. They are
/// immutable: a deal is signed against these rules, and a Market with no owner has no key that could change them.
///
/// Committees (protocols/settlement/committee.ts has the same rules as pure functions): a dispute or audit of a deal
/// naming n mediators is judged by k = min(rules.size, n), made odd. k = 1 is the single drawn mediator of `mediate`.
/// For k > 1 the record's mediatorIndex is COMMITTEE and the committee drawn is kept in one slot beside it: each member
/// commits keccak256(abi.encode(dealId, member, uint8 vote, salt)), then reveals; `finalizeCommittee` pays the majority
/// (fee and the slashed bonds of everyone else) or, without a quorum, lets the result stand. A mediator named in a
/// committee deal must have `minBond` bonded at agreement, and a bond being withdrawn stays slashable for
/// `unbondDelay`, longer than any committee deal can still need it.
contract Market is MarketState {
    using SafeERC20 for IERC20;

    IERC20 public immutable token;
    /// the committee's closing code (MarketCommittee), run on this contract's storage; deployed by the constructor
    MarketCommittee internal immutable committeeCode;
    Directory public immutable directory;

    uint32 internal immutable minResultTimeout;
    uint32 internal immutable maxResultTimeout;
    uint32 internal immutable minJudgeWindow;
    uint32 internal immutable maxJudgeWindow;
    uint32 internal immutable minMediateTimeout;
    uint32 internal immutable maxMediateTimeout;
    uint32 internal immutable maxDealTtl;
    uint96 internal immutable minMediationFee;

    uint8 internal immutable committeeSize;
    uint32 internal immutable commitWindow;
    uint32 internal immutable revealWindow;
    uint32 internal immutable unbondDelay;
    uint96 internal immutable minBond;
    uint96 internal immutable bondSlash;

    constructor(IERC20 token_, Directory directory_, MarketBounds memory b, CommitteeRules memory c) EIP712("Lilypad", "1") {
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
        // size 1: no committees, the rest unused. Otherwise the bond must outlive every deal it can be owed in: an
        // agreed deal's dispute starts within its result and judge windows, the parties' seed reveals take up to a
        // reveal window, and the committee then lasts both vote windows.
        if (c.size == 0 || c.size > 9 || c.size % 2 == 0) revert InvalidCommitteeRules();
        if (
            c.size > 1
                && (c.commitWindow == 0 || c.revealWindow == 0 || c.minBond == 0 || c.slash == 0 || c.slash > c.minBond
                    || uint256(c.unbondDelay)
                        < uint256(b.maxResultTimeout) + b.maxJudgeWindow + 2 * uint256(c.revealWindow) + c.commitWindow)
        ) revert InvalidCommitteeRules();
        committeeSize = c.size;
        commitWindow = c.commitWindow;
        revealWindow = c.revealWindow;
        unbondDelay = c.unbondDelay;
        minBond = c.minBond;
        bondSlash = c.slash;
        committeeCode = new MarketCommittee(c);
        emit BoundsSet(b);
        emit CommitteeRulesSet(c);
    }

    /// The committee rules every dispute follows.
    function committeeRules() external view returns (CommitteeRules memory) {
        return CommitteeRules(committeeSize, commitWindow, revealWindow, unbondDelay, minBond, bondSlash);
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

    // ---- the deal's life ----

    function agree(Deal calldata deal, bytes calldata jobCreatorSig, bytes calldata providerSig)
        external
        returns (bytes32 id)
    {
        if (block.timestamp > deal.expiry) revert DealExpired(deal.expiry, block.timestamp);
        _checkBounds(deal);
        uint256 nMediators = deal.mediators.length;
        if (nMediators == 0) revert NoMediators();
        if (nMediators > UNDRAWN) revert TooManyMediators(nMediators);
        for (uint256 i; i < nMediators; ++i) {
            if (!directory.isMediator(deal.mediators[i])) revert NotAMediator(deal.mediators[i]);
        }
        if (committeeSize > 1 && nMediators > 2) _checkCommitteeMediators(deal);
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
        rec.since = uint32(block.timestamp);
        emit DealAgreed(id, deal.jobCreator, deal.resourceProvider, deal.price, deal.collateral, deal.mediationFee);
    }

    function submitResult(Deal calldata deal, string calldata resultCid) public {
        _submit(deal, resultCid, DealStates.ResultSubmitted, 0);
    }

    /// The result together with the job creator's acceptance of exactly that result, signed off chain (EIP-712
    /// `Accept(dealId, resultCid)` under this Market's domain): a deal without audits is settled at once, as `accept`
    /// would, so a job costs agree plus this one transaction. The acceptance replaces the job creator's judgement, not
    /// the audit: a deal with audits keeps the acceptance (ACCEPTED) and waits for its draw, which no one can know
    /// before this transaction's block is made (`drawAudit`: a miss settles it then, a hit sends it to mediation). A
    /// signature can settle only the deal and the result it names, on this chain and this Market, and only once.
    function submitAcceptedResult(Deal calldata deal, string calldata resultCid, bytes calldata acceptance) external {
        bool audits = deal.auditPpm != 0;
        (bytes32 id, bytes32 cidKeccak) =
            _submit(deal, resultCid, audits ? DealStates.ResultSubmitted : DealStates.Settled, audits ? ACCEPTED : 0);
        if (!_signedBy(deal.jobCreator, _acceptanceDigest(id, cidKeccak), acceptance)) {
            revert InvalidSignature(deal.jobCreator);
        }
        if (!audits) _payOutSettled(id, deal, true);
    }

    /// What a job creator signs to accept a result off chain (protocols/eip712.ts `idOf('Accept', …)`).
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
            (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.ResultSubmitted);
            _closeOrAudit(id, deal, rec, true);
        }
    }

    /// Anyone may settle deals whose judge window has passed (the provider usually does, to get paid).
    function settle(Deal[] calldata batch) public {
        for (uint256 i; i < batch.length; ++i) {
            Deal calldata deal = batch[i];
            (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.ResultSubmitted);
            uint256 deadline = uint256(rec.since) + deal.judgeWindow;
            if (block.timestamp <= deadline) revert JudgeWindowOpen(deadline);
            _closeOrAudit(id, deal, rec, false);
        }
    }

    /// The audit draw of a submission to a deal with audits, by anyone once the submission's block is made: a hit
    /// sends the deal to mediation as an audit; a miss settles it if the job creator's acceptance came with the
    /// result, else is recorded (AUDIT_CLEARED) so that it holds beyond the 256 blocks whose hashes the chain keeps.
    /// `accept` and `settle` draw the same way when no one has yet. Past those blocks an undrawn submission is
    /// audited: whoever would rather it were not cannot gain by waiting (docs/mediation.md, "Unbiasable draws").
    function drawAudit(Deal calldata deal) external {
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.ResultSubmitted);
        if (deal.auditPpm == 0 || rec.mediatorIndex & AUDIT_CLEARED != 0) revert NoAuditDue(id);
        if (_auditHits(id, deal, rec)) _dispute(id, deal, rec, true);
        else if (rec.mediatorIndex & ACCEPTED != 0) _closeAsSettled(id, deal, true);
        else deals[id].mediatorIndex = rec.mediatorIndex | AUDIT_CLEARED;
    }

    /// The fee is already locked at agreement, so a challenge costs nothing more; the mediator is drawn after this
    /// block, from its hash, which the job creator cannot know when it sends this. A job creator that gave its
    /// acceptance cannot.
    function challenge(Deal calldata deal) external {
        if (msg.sender != deal.jobCreator) revert NotJobCreator(msg.sender);
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.ResultSubmitted);
        uint256 deadline = uint256(rec.since) + deal.judgeWindow;
        if (block.timestamp > deadline) revert JudgeWindowClosed(deadline);
        if (rec.mediatorIndex & ACCEPTED != 0) revert AlreadyAccepted(id);
        _dispute(id, deal, rec, false);
    }

    /// A single mediator's dispute: its mediator is keccak256(abi.encode(dealId, blockhash(B))) mod n, B the dispute's
    /// block, whose hash nobody knows when the challenge or the audit's draw is sent (the residual bias, B's
    /// proposer's, is in docs/mediation.md). Anyone fixes it from block B + 1 to B + 256 (BLOCKHASH's reach); the
    /// mediator's window counts from then. Undrawn by then, nobody can be drawn and the dispute times out as a silent
    /// mediator's would, its window counted from the dispute's start: waiting gives no one another draw.
    function drawMediator(Deal calldata deal) external {
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.Challenged);
        // (a committee's dispute too: its members are drawn by the parties' seeds)
        if (rec.mediatorIndex != UNDRAWN) revert MediatorAlreadyDrawn(id);
        uint8 drawn = _mediatorDraw(id, deal, rec);
        DealRecord storage slot = deals[id];
        slot.mediatorIndex = drawn;
        slot.since = uint32(block.timestamp);
        emit MediatorDrawn(id, deal.jobCreator, deal.mediators[drawn]);
    }

    /// Within the 256 blocks the drawn mediator may judge without `drawMediator`: `mediate` draws it then.
    function mediate(Deal calldata deal, bool resultCorrect) external {
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.Challenged);
        if (rec.mediatorIndex == COMMITTEE) revert CommitteeDispute(id);
        if (rec.mediatorIndex == UNDRAWN) rec.mediatorIndex = _mediatorDraw(id, deal, rec);
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

    /// No verdict in time: the mediator was at fault, so the result stands and the job creator gets its fee back. The
    /// window counts from the draw, or from the dispute's start while nobody has drawn (a mediator never drawn is
    /// silent: nobody gains by leaving it undrawn what its silence would not give them).
    function timeoutMediation(Deal calldata deal) external {
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.Challenged);
        if (rec.mediatorIndex == COMMITTEE) revert CommitteeDispute(id);
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

    /// Every submission's checks, in this order; the record moves to `state` (ResultSubmitted, or Settled for an
    /// accepted result without audits, whose caller pays it out) with `flags`, and keeps this block, whose hash draws
    /// the audit. Returns the CID's whole keccak256 too (an acceptance's digest needs it).
    function _submit(Deal calldata deal, string calldata resultCid, uint8 state, uint8 flags)
        internal
        returns (bytes32 id, bytes32 cidKeccak)
    {
        if (msg.sender != deal.resourceProvider) revert NotResourceProvider(msg.sender);
        if (bytes(resultCid).length == 0) revert EmptyResultCid();
        DealRecord memory rec;
        (id, rec) = _open(deal, DealStates.Agreed);
        uint256 deadline = uint256(rec.since) + deal.resultTimeout;
        if (block.timestamp > deadline) revert ResultWindowClosed(deadline);

        cidKeccak = keccak256(bytes(resultCid));
        // the whole slot in one write, packed as DealRecord lays it out (state in the lowest byte, the result hash in
        // the top 22): the struct assignment reads the slot first to mask each member (~240 gas on the happy path)
        uint256 word = uint256(state) | (block.timestamp & type(uint32).max) << 8 | uint256(flags) << 40
            | (block.number & type(uint32).max) << 48 | (uint256(cidKeccak) >> 80) << 80;
        DealRecord storage slot = deals[id];
        assembly ("memory-safe") {
            sstore(slot.slot, word)
        }
        emit ResultSubmitted(id, msg.sender, resultCid);
    }

    /// Whether a submission's audit draw hits: keccak256(abi.encode(dealId, resultHash, blockhash(S))) mod 10^6 <
    /// auditPpm, S the submission's block. Nobody knows S's hash when submitting (the residual bias, its proposer's,
    /// is in docs/mediation.md), and it can be read from the next block on; a draw in S itself reverts. Past the 256
    /// blocks BLOCKHASH answers for, the draw is a hit: a provider whose draw missed has it recorded in time.
    function _auditHits(bytes32 id, Deal calldata deal, DealRecord memory rec) internal view returns (bool) {
        if (deal.auditPpm == 0 || rec.mediatorIndex & AUDIT_CLEARED != 0) return false;
        uint256 age = _age(rec);
        if (age == 0) revert AuditDrawNotReady(block.number);
        if (age > SEED_BLOCKS) return true;
        return uint256(keccak256(abi.encode(id, rec.resultHash, blockhash(block.number - age)))) % PPM < deal.auditPpm;
    }

    /// Blocks since the record's last transition (its block is kept mod 2^32).
    function _age(DealRecord memory rec) internal view returns (uint256 age) {
        unchecked {
            age = uint32(uint32(block.number) - rec.blockNumber);
        }
    }

    /// A single mediator's index: keccak256(abi.encode(dealId, blockhash(B))) mod n, from block B + 1 to B + 256.
    function _mediatorDraw(bytes32 id, Deal calldata deal, DealRecord memory rec) internal view returns (uint8) {
        uint256 age = _age(rec);
        if (age == 0) revert MediatorDrawNotReady();
        if (age > SEED_BLOCKS) revert MediatorDrawClosed();
        return uint8(uint256(keccak256(abi.encode(id, blockhash(block.number - age)))) % deal.mediators.length);
    }

    /// A dispute starts now: a challenge, or an audit the draw sent.
    function _dispute(bytes32 id, Deal calldata deal, DealRecord memory rec, bool audit) internal {
        rec.state = DealStates.Challenged;
        rec.since = uint32(block.timestamp);
        rec.blockNumber = uint32(block.number);
        _startDispute(id, deal, rec, audit);
        deals[id] = rec;
        emit DealChallenged(id, deal.jobCreator, address(0), audit);
    }

    /// `accept` and `settle`: the deal is settled, unless its audit draw hits.
    function _closeOrAudit(bytes32 id, Deal calldata deal, DealRecord memory rec, bool early) internal {
        if (_auditHits(id, deal, rec)) _dispute(id, deal, rec, true);
        else _closeAsSettled(id, deal, early);
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

    // ---- committees ----

    /// Moves `amount` of the caller's deposit into its mediator bond.
    function bond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        _debit(msg.sender, amount);
        bonds[msg.sender].amount += amount;
        emit Bonded(msg.sender, amount);
    }

    /// Starts withdrawing `amount` of the caller's bond: it stays slashable, and `finishUnbond` returns it to the
    /// deposit once `unbondDelay` has passed (a later start restarts the wait for everything unbonding).
    function startUnbond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Bond storage b = bonds[msg.sender];
        if (b.amount < amount) revert InsufficientBond(msg.sender, amount, b.amount);
        b.amount -= amount;
        b.unbonding += amount;
        b.unbondAt = block.timestamp + unbondDelay;
        emit UnbondStarted(msg.sender, amount, b.unbondAt);
    }

    function finishUnbond() external {
        Bond storage b = bonds[msg.sender];
        uint256 amount = b.unbonding;
        if (amount == 0) revert NothingUnbonding();
        if (block.timestamp < b.unbondAt) revert UnbondNotDue(b.unbondAt);
        b.unbonding = 0;
        deposits[msg.sender] += amount;
        emit Unbonded(msg.sender, amount);
    }

    /// A committee member commits its hidden vote, keccak256(abi.encode(dealId, member, uint8 vote, salt)), whole, in
    /// its own slot `slot` of voteSlots, which it chooses (one none of its unrevealed commitments holds) and names
    /// again to reveal.
    function commitVote(Deal calldata deal, bytes32 commitment, uint256 slot) external {
        (bytes32 id, Committee memory c) = _votingCommittee(deal);
        uint256 pos = _position(deal, c, msg.sender);
        uint256 deadline = uint256(c.drawnAt) + commitWindow;
        if (block.timestamp > deadline) revert CommitWindowClosed(deadline);
        uint16 bit = uint16(1 << pos);
        if (c.committed & bit != 0) revert AlreadyCommitted(msg.sender);
        voteSlots[msg.sender][slot] = commitment;
        c.committed |= bit;
        if (c.committed == uint16((1 << c.k) - 1)) c.allCommittedAt = uint32(block.timestamp);
        committees[id] = c;
        emit VoteCommitted(id, msg.sender);
    }

    function revealVote(Deal calldata deal, uint8 vote, bytes32 salt, uint256 slot) external {
        (bytes32 id, Committee memory c) = _votingCommittee(deal);
        uint256 pos = _position(deal, c, msg.sender);
        uint256 commitEnd = _commitEnd(c);
        if (c.allCommittedAt == 0 && block.timestamp <= commitEnd) revert RevealNotOpen(commitEnd);
        uint256 deadline = commitEnd + revealWindow;
        if (block.timestamp > deadline) revert RevealWindowClosed(deadline);
        uint16 bit = uint16(1 << pos);
        if (c.committed & bit == 0) revert NotCommitted(msg.sender);
        if (c.revealed & bit != 0) revert AlreadyRevealed(msg.sender);
        if (vote > VOTE_NO_CASE) revert InvalidVote(vote);
        if (keccak256(abi.encode(id, msg.sender, vote, salt)) != voteSlots[msg.sender][slot]) {
            revert CommitmentMismatch(msg.sender);
        }
        c.revealed |= bit;
        if (vote == VOTE_CORRECT) c.verdicts |= bit;
        else if (vote == VOTE_NO_CASE) c.noCase |= bit;
        emit VoteRevealed(id, msg.sender, vote);
        // the reveal phase is open, so once every member that committed has revealed nothing can change the tally:
        // this reveal closes the vote (a transaction nobody then has to send; the close deletes the slot, so it is
        // handed over rather than written; `since` only matters before the draw)
        if (c.revealed == c.committed) _finalize(id, deal, 0, c);
        else committees[id] = c;
    }

    /// A vote's deal and committee. A drawn committee's slot exists only while its deal is Challenged and judged by
    /// it (the draw happens in that state, and the close deletes the slot), so a vote reads the slot alone, not the
    /// deal's record (a cold read, 2,100 gas). Without a drawn committee the record is opened for its error, in the
    /// order it always had (then `_position`: nobody is a member before the draw).
    function _votingCommittee(Deal calldata deal) internal view returns (bytes32 id, Committee memory c) {
        id = dealId(deal);
        c = committees[id];
        if (c.drawnAt == 0) {
            (, DealRecord memory rec) = _open(deal, DealStates.Challenged);
            if (rec.mediatorIndex != COMMITTEE) revert NotACommitteeDispute(id);
        }
    }

    /// Anyone, once every member that committed has revealed (after the commit phase) or the reveal window has passed;
    /// before the draw, once the parties' seed phase is over (`revealWindow` from the dispute's start, or its 256
    /// blocks) without both reveals: a party that withheld its reveal loses. The job creator alone withheld: the result
    /// stands and the provider gets the fee too. The provider alone: the result is ruled wrong and the job creator gets
    /// everything back. Both: the result stands and the fee goes back, as when a committee reaches no quorum. A vote
    /// whose last member revealed is already closed (`revealVote`); this is for deadlines. The code is MarketCommittee's.
    function finalizeCommittee(Deal calldata deal) external {
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.Challenged);
        if (rec.mediatorIndex != COMMITTEE) revert NotACommitteeDispute(id);
        _finalize(id, deal, rec.since, committees[id]);
    }

    /// MarketCommittee.finalize on this contract's storage; its revert, if any, passed on as it came.
    function _finalize(bytes32 id, Deal calldata deal, uint32 since, Committee memory c) internal {
        (bool ok, bytes memory ret) =
            address(committeeCode).delegatecall(abi.encodeCall(MarketCommittee.finalize, (id, deal, since, c)));
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }

    function _committeeSizeFor(uint256 n) internal view returns (uint256 k) {
        k = n < committeeSize ? n : committeeSize;
        if (k % 2 == 0) k -= 1;
    }

    /// A committee deal's mediators: none twice, neither party, each bonded (what a wrong or missing vote costs).
    function _checkCommitteeMediators(Deal calldata deal) internal view {
        uint256 n = deal.mediators.length;
        for (uint256 i; i < n; ++i) {
            address m = deal.mediators[i];
            for (uint256 j; j < i; ++j) {
                if (deal.mediators[j] == m) revert DuplicateMediator(m);
            }
            if (m == deal.jobCreator || m == deal.resourceProvider) revert PartyAsMediator(m);
            uint256 b = bonds[m].amount;
            if (b < minBond) revert MediatorUnbonded(m, b);
        }
    }

    /// Who judges a dispute starting now: the single mediator, drawn after this block from its hash (`drawMediator`),
    /// or, for k > 1, a committee, drawn once both parties have revealed their seeds (`revealSeed`).
    function _startDispute(bytes32 id, Deal calldata deal, DealRecord memory rec, bool audit) internal {
        uint256 k = _committeeSizeFor(deal.mediators.length);
        if (k == 1) {
            rec.mediatorIndex = UNDRAWN;
            return;
        }
        rec.mediatorIndex = COMMITTEE;
        committees[id] = Committee(0, 0, uint8(k), 0, 0, 0, 0, 0, uint40(block.number), audit ? SEED_AUDIT : 0);
    }

    /// A party's seed for a committee dispute: the secret whose keccak256 its offer (the one the deal names by id)
    /// committed to, with the offer's other encoded field words (OfferHashing). Anyone holding the secret may send
    /// it. Accepted after the dispute's seed block, within `revealWindow` of the dispute's start and within the 256
    /// blocks BLOCKHASH still answers for. The second reveal draws the committee from
    /// keccak256(abi.encode(dealId, jobCreatorSecret ^ providerSecret, blockhash(seedBlock))): nobody knew both
    /// secrets when that block was made, and the last revealer, who knows the draw first, can only withhold and lose.
    function revealSeed(Deal calldata deal, bool provider, bytes32 secret, bytes32[] calldata offerWords, bytes32 firstSecret)
        external
    {
        (bytes32 id, DealRecord memory rec) = _open(deal, DealStates.Challenged);
        if (rec.mediatorIndex != COMMITTEE) revert NotACommitteeDispute(id);
        Committee memory c = committees[id];
        uint8 bit = provider ? SEED_PROVIDER : SEED_JOB_CREATOR;
        if (c.drawnAt != 0 || c.seeds & bit != 0) revert SeedAlreadyRevealed(provider);
        if (block.number <= c.seedBlock) revert SeedRevealNotOpen(c.seedBlock);
        uint256 deadline = uint256(rec.since) + revealWindow;
        uint256 lastBlock = uint256(c.seedBlock) + SEED_BLOCKS;
        if (block.timestamp > deadline || block.number > lastBlock) revert SeedRevealClosed(deadline);
        if (
            offerWords.length != (provider ? OfferHashing.RESOURCE_OFFER_WORDS : OfferHashing.JOB_OFFER_WORDS)
                || _hashTypedDataV4(OfferHashing.structHash(provider, offerWords, secret))
                    != (provider ? deal.resourceOfferId : deal.jobOfferId)
        ) revert SeedMismatch(provider);
        emit SeedRevealed(id, provider, secret);
        if (c.seeds & (SEED_JOB_CREATOR | SEED_PROVIDER) == 0) {
            c.seeds |= bit;
            _tagFirstSeed(c, _seedTag(secret));
            committees[id] = c;
            return;
        }
        if (_seedTag(firstSecret) != _tagOf(c)) revert WrongFirstSeed();
        bytes32 seed = keccak256(abi.encode(id, firstSecret ^ secret, blockhash(c.seedBlock)));
        (c.committed, c.revealed, c.verdicts, c.noCase, c.seedBlock) = (0, 0, 0, 0, 0);
        c.seeds |= bit;
        c.drawnAt = uint32(block.timestamp);
        c.members = _draw(seed, deal.mediators.length, c.k);
        committees[id] = c;
        address[] memory members = new address[](c.k);
        for (uint256 i; i < c.k; ++i) members[i] = _member(deal, c, i);
        emit CommitteeDrawn(id, seed, members, c.seeds & SEED_AUDIT != 0);
    }

    /// The first revealer's secret is not stored: its tag, the top 128 bits of keccak256(secret), is kept in the
    /// committee's slot (in the vote fields and members, unused before the draw), and the second revealer passes the
    /// secret again (it is in the first's `SeedRevealed`). Passing another secret with the same tag is a second
    /// preimage of 128 bits, ~2^128 hashes: the second revealer, who can compute the draw, cannot swap the first's
    /// share for one of its choosing. (A fresh slot for the whole secret cost ~20,000 gas.)
    function _seedTag(bytes32 secret) internal pure returns (uint128) {
        return uint128(uint256(keccak256(abi.encode(secret))) >> 128);
    }

    function _tagFirstSeed(Committee memory c, uint128 tag) internal pure {
        (c.committed, c.revealed, c.verdicts, c.noCase, c.members) =
            (uint16(tag), uint16(tag >> 16), uint16(tag >> 32), uint16(tag >> 48), uint72(tag >> 64));
    }

    function _tagOf(Committee memory c) internal pure returns (uint128) {
        return uint128(c.committed) | uint128(c.revealed) << 16 | uint128(c.verdicts) << 32 | uint128(c.noCase) << 48
            | uint128(c.members) << 64;
    }

    /// k distinct indices into n, in draw order, byte i the i-th: a partial Fisher–Yates shuffle by
    /// keccak256(abi.encode(seed, i)).
    function _draw(bytes32 seed, uint256 n, uint256 k) internal pure returns (uint72 members) {
        uint8[] memory idx = new uint8[](n);
        for (uint256 i; i < n; ++i) idx[i] = uint8(i);
        for (uint256 i; i < k; ++i) {
            uint256 j = i + uint256(keccak256(abi.encode(seed, i))) % (n - i);
            (idx[i], idx[j]) = (idx[j], idx[i]);
            members |= uint72(idx[i]) << (8 * i);
        }
    }

    /// Nobody is a member before the draw (the members field holds the first seed's tag then).
    function _position(Deal calldata deal, Committee memory c, address who) internal pure returns (uint256) {
        for (uint256 i; c.drawnAt != 0 && i < c.k; ++i) {
            if (_member(deal, c, i) == who) return i;
        }
        revert NotCommitteeMember(who);
    }

    function _commitEnd(Committee memory c) internal view returns (uint256) {
        return c.allCommittedAt != 0 ? c.allCommittedAt : uint256(c.drawnAt) + commitWindow;
    }
}
