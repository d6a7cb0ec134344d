// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Deal, CommitteeRules, MarketBounds} from "./LilypadTypes.sol";

/// The Market's storage, events and errors, shared by the Market and the committee code it DELEGATECALLs
/// (MarketCommittee): both inherit this one layout (EIP712's two fallback strings first, then the mappings below), so
/// the committee code reads and writes the Market's own slots. Immutables are not storage: each contract has its own.
abstract contract MarketState is EIP712 {
    struct DealRecord {
        uint8 state;
        /// seconds, good until 2106
        uint32 since;
        /// Challenged: the drawn mediator's index (or UNDRAWN, or COMMITTEE); ResultSubmitted: AUDIT_CLEARED | ACCEPTED
        uint8 mediatorIndex;
        /// the block of the last transition, mod 2^32: a submission's audit is drawn from its hash (`_auditHits`), a
        /// single mediator from the dispute's (`_mediatorDraw`)
        uint32 blockNumber;
        /// top 176 bits of keccak256(bytes(resultCid)): 2^88 collision work, and a collision only lets a provider
        /// name two CIDs for its own deal
        bytes22 resultHash;
    }

    /// One slot: a committee is at most 9 members, its draw kept as their indices into deal.mediators. Before the draw
    /// it holds the dispute's seed block and which parties have revealed their seeds (docs/mediation.md, "Unbiasable
    /// draws"), and after the first reveal that secret's tag (Market `_seedTag`) in committed..members, which only the
    /// draw uses: read those fields only once drawnAt is set. Times are uint32 (seconds, good until 2106) to leave room
    /// for the seed block.
    struct Committee {
        /// 0 until both parties have revealed their seeds and the committee is drawn
        uint32 drawnAt;
        /// when the last member committed (the reveal phase opened then); 0 while some have not
        uint32 allCommittedAt;
        uint8 k;
        /// bit i: the i-th member in draw order has committed / revealed / revealed "correct"
        uint16 committed;
        uint16 revealed;
        uint16 verdicts;
        /// bit i: the i-th member revealed "no case" (it could not obtain the deal and job offer to re-run)
        uint16 noCase;
        /// byte i: the i-th member's index into deal.mediators
        uint72 members;
        /// the block the dispute started in: its hash goes into the seed, and every seed reveal comes after it (0 once
        /// drawn)
        uint40 seedBlock;
        /// SEED_JOB_CREATOR / SEED_PROVIDER: that party has revealed; SEED_AUDIT: the dispute is an audit
        uint8 seeds;
    }

    struct Bond {
        uint256 amount;
        uint256 unbonding;
        uint256 unbondAt;
    }

    uint256 internal constant PPM = 1_000_000;
    /// a DealRecord.mediatorIndex that means "judged by a committee" (a deal names at most 254 mediators: 0..253)
    uint8 internal constant COMMITTEE = type(uint8).max;
    /// a single mediator's dispute whose mediator is not drawn yet (`drawMediator`, from the dispute block's hash)
    uint8 internal constant UNDRAWN = type(uint8).max - 1;
    /// A committee member's vote. "No case" is for a member the parties never gave the deal and job offer: it is
    /// not slashed for it (it could not judge) and not paid, and it is not counted towards either verdict.
    uint8 internal constant VOTE_WRONG = 0;
    uint8 internal constant VOTE_CORRECT = 1;
    uint8 internal constant VOTE_NO_CASE = 2;
    uint8 internal constant SEED_JOB_CREATOR = 1;
    uint8 internal constant SEED_PROVIDER = 2;
    uint8 internal constant SEED_AUDIT = 4;
    /// ResultSubmitted flags (in mediatorIndex): the audit draw missed / the job creator's acceptance came with the result
    uint8 internal constant AUDIT_CLEARED = 1;
    uint8 internal constant ACCEPTED = 2;
    /// BLOCKHASH answers for the last 256 blocks only: a seed must be complete within them
    uint256 internal constant SEED_BLOCKS = 256;
    uint8 internal constant TIMEOUT_RESULT = 0;
    uint8 internal constant TIMEOUT_MEDIATION = 1;
    /// EIP-712 type of a job creator's acceptance given off chain (protocols/eip712.ts `AcceptTypes`).
    bytes32 internal constant ACCEPT_TYPEHASH = keccak256("Accept(bytes32 dealId,string resultCid)");

    mapping(address => uint256) public deposits;
    mapping(bytes32 => DealRecord) public deals;
    /// Job creator => nonce word => bitmap; nonces need not be sequential, but sequential ones share a word.
    mapping(address => mapping(uint256 => uint256)) public nonceBitmap;
    mapping(bytes32 => Committee) public committees;
    /// mediator => slot => commitment. A member commits in a slot it chooses, one none of its unrevealed commitments
    /// holds, and names it again when it reveals. The slots are the mediator's own and stay written between disputes,
    /// so a commit rewrites a non-zero slot (~5,000 gas) instead of filling a fresh one (~22,100). A commitment names
    /// its deal and member, so one left from another dispute never reveals for this one; overwriting one's own
    /// unrevealed commitment only costs oneself its reveal.
    mapping(address => mapping(uint256 => bytes32)) internal voteSlots;
    mapping(address => Bond) public bonds;

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
    event ResultSubmitted(bytes32 indexed dealId, address indexed resourceProvider, string resultCid);
    /// mediator: always the zero address now (a single mediator is drawn after this block: `MediatorDrawn`; a
    /// committee once both seeds are revealed: `CommitteeDrawn`); kept in the event for its readers
    event DealChallenged(bytes32 indexed dealId, address indexed jobCreator, address indexed mediator, bool audit);
    event MediatorDrawn(bytes32 indexed dealId, address indexed jobCreator, address indexed mediator);
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
    event CommitteeRulesSet(CommitteeRules rules);
    /// members: in draw order (a mediator learns it is on the committee without the deal's terms)
    event CommitteeDrawn(bytes32 indexed dealId, bytes32 seed, address[] members, bool audit);
    /// a party revealed the secret its offer committed to (provider: false for the job creator)
    event SeedRevealed(bytes32 indexed dealId, bool provider, bytes32 secret);
    /// the seed phase ended without both reveals: revealed says who did (SEED_JOB_CREATOR | SEED_PROVIDER bits)
    event SeedWithheld(bytes32 indexed dealId, uint8 revealed);
    event VoteCommitted(bytes32 indexed dealId, address indexed member);
    /// vote: VOTE_WRONG, VOTE_CORRECT or VOTE_NO_CASE
    event VoteRevealed(bytes32 indexed dealId, address indexed member, uint8 vote);
    /// majority and slashed: bit i is the i-th member in draw order
    /// noCase: the members that said they never obtained the case, on chain for anyone counting the deal as verified
    event CommitteeFinalized(bytes32 indexed dealId, uint8 state, uint16 majority, uint16 slashed, uint16 noCase);
    event Bonded(address indexed mediator, uint256 amount);
    event UnbondStarted(address indexed mediator, uint256 amount, uint256 dueAt);
    event Unbonded(address indexed mediator, uint256 amount);
    event BondSlashed(address indexed mediator, bytes32 indexed dealId, uint256 amount);

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
    error InvalidCommitteeRules();
    error MediatorUnbonded(address mediator, uint256 bond);
    error PartyAsMediator(address mediator);
    error DuplicateMediator(address mediator);
    error CommitteeDispute(bytes32 dealId);
    error NotACommitteeDispute(bytes32 dealId);
    error NotCommitteeMember(address caller);
    error CommitWindowClosed(uint256 deadline);
    error AlreadyCommitted(address member);
    error RevealNotOpen(uint256 opensAfter);
    error RevealWindowClosed(uint256 deadline);
    error NotCommitted(address member);
    error AlreadyRevealed(address member);
    error CommitmentMismatch(address member);
    error VotingOpen(uint256 until);
    error InvalidVote(uint8 vote);
    error InsufficientBond(address account, uint256 needed, uint256 available);
    error NothingUnbonding();
    error UnbondNotDue(uint256 dueAt);
    error SeedRevealNotOpen(uint256 afterBlock);
    error SeedRevealClosed(uint256 deadline);
    error SeedAlreadyRevealed(bool provider);
    error SeedMismatch(bool provider);
    error SeedRevealOpen(uint256 deadline);
    error AuditDrawNotReady(uint256 submittedIn);
    error NoAuditDue(bytes32 dealId);
    error AlreadyAccepted(bytes32 dealId);
    error MediatorDrawNotReady();
    error MediatorDrawClosed();
    error MediatorAlreadyDrawn(bytes32 dealId);
    /// the second seed reveal passed a first secret other than the one revealed (its keccak256's top 128 bits differ)
    error WrongFirstSeed();

    function _member(Deal calldata deal, Committee memory c, uint256 i) internal pure returns (address) {
        return deal.mediators[uint8(c.members >> (8 * i))];
    }

    function _count(uint16 mask) internal pure returns (uint256 n) {
        for (; mask != 0; mask &= mask - 1) ++n;
    }
}
