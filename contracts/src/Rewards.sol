// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// A validator's signed verdict on one canary job (EIP-712 struct "CanaryReport" under the domain
/// {name: "Lilypad Rewards", version: "1", chainId, verifyingContract: this}). Mirrors
/// protocols/incentives/canary-report.ts; a test compares the type hash.
struct CanaryReport {
    uint64 epoch;
    address provider;
    /// the canary's Market deal, or zero when the provider could not be reached (no deal was made)
    bytes32 dealId;
    /// 1 passed, 2 wrong result, 3 no result in time, 4 unreachable
    uint8 outcome;
    /// resource units of the offer slot the canary ran in (milli-units, protocols/incentives/units.ts)
    uint32 units;
    uint64 observedAt;
}

/// Immutable parameters (seconds, LP wei).
struct RewardsConfig {
    /// start of epoch 0 (unix seconds)
    uint64 genesis;
    uint32 epochLength;
    /// after an epoch ends: how long its canary reports are accepted; no root is proposed before this passes, so
    /// every input of an epoch's computation is on chain and frozen before anyone computes its root
    uint32 reportWindow;
    /// between a root reaching the threshold and becoming final; any publisher may veto it meanwhile
    uint32 challengeDelay;
    /// after finalisation: how long claims are paid; the rest then returns to the pool (`expire`)
    uint32 claimWindow;
    /// no root may distribute more than this in one epoch
    uint96 maxPerEpoch;
    /// publishers that must propose the same (root, total) before it can become final
    uint8 threshold;
    /// keccak256 of the reward rules' canonical JSON: the rules every publisher computes with
    bytes32 rulesHash;
}

/// Rewards for the incentivised testnet: per epoch, a Merkle root of (epoch, account, amount) leaves computed by
/// anyone from chain data (Market events and the canary reports recorded here), paid in LP from a pool.
///
/// One compromised key cannot steal the pool: a root needs `threshold` publishers to propose the very same
/// (root, total) — each computes it independently from public data — and then waits `challengeDelay`, during which
/// any publisher can veto it. Each veto raises the approvals the root needs by one and restarts the delay, so a root
/// becomes final only with more approvals than `threshold` + vetoes: a lone key can neither push its own root through
/// (the others veto it) nor block an honest one for good (the others out-vote its veto). A root never pays more than
/// `maxPerEpoch`, never more than the pool holds beyond what earlier roots still owe, and never more than its declared
/// total, whatever its leaves say. With threshold 1 the constructor requires a second publisher and a delay, so a lone
/// key's root can always be vetoed. Publishers and validators are fixed at deployment: there is no owner.
contract Rewards is EIP712 {
    using SafeERC20 for IERC20;

    bytes32 internal constant CANARY_REPORT_TYPEHASH = keccak256(
        "CanaryReport(uint64 epoch,address provider,bytes32 dealId,uint8 outcome,uint32 units,uint64 observedAt)"
    );
    uint8 public constant OUTCOME_PASSED = 1;
    uint8 public constant OUTCOME_UNREACHABLE = 4;

    struct Proposal {
        uint8 approvals;
        uint8 vetoes;
        /// zero while the root lacks approvals; else when it may become final
        uint40 readyAt;
    }

    struct EpochRoot {
        bytes32 root;
        uint96 total;
        uint96 claimed;
        uint40 finalizedAt;
        bool expired;
    }

    struct Claim {
        uint256 epoch;
        address account;
        uint256 amount;
        bytes32[] proof;
    }

    IERC20 public immutable token;
    uint64 internal immutable genesis;
    uint32 internal immutable epochLength;
    uint32 internal immutable reportWindow;
    uint32 internal immutable challengeDelay;
    uint32 internal immutable claimWindow;
    uint96 internal immutable maxPerEpoch;
    uint8 internal immutable threshold;
    bytes32 public immutable rulesHash;

    address[] internal publisherList;
    address[] internal validatorList;
    mapping(address => bool) public isPublisher;
    mapping(address => bool) public isValidator;

    /// epoch => keccak256(root, total) => proposal
    mapping(uint256 => mapping(bytes32 => Proposal)) public proposals;
    /// one voice per publisher and proposal: an approval or a veto
    mapping(uint256 => mapping(bytes32 => mapping(address => bool))) public votedBy;
    mapping(uint256 => EpochRoot) public epochs;
    mapping(uint256 => mapping(address => bool)) public claimed;
    /// Σ over final, unexpired epochs of (total − claimed): what the pool still owes
    uint256 public outstanding;
    /// a recorded report's deal id, or its report id when it names no deal (an unreachable provider)
    mapping(bytes32 => bool) public reported;

    event Funded(address indexed from, uint256 amount);
    event RootProposed(uint256 indexed epoch, bytes32 root, uint96 total, address indexed publisher, uint8 approvals, uint40 readyAt);
    event RootVetoed(uint256 indexed epoch, bytes32 root, uint96 total, address indexed publisher, uint8 vetoes, uint40 readyAt);
    event RootFinalized(uint256 indexed epoch, bytes32 root, uint96 total);
    event Claimed(uint256 indexed epoch, address indexed account, uint256 amount);
    event EpochExpired(uint256 indexed epoch, uint256 returned);
    event CanaryRecorded(
        uint64 indexed epoch,
        address indexed provider,
        address indexed validator,
        bytes32 reportId,
        bytes32 dealId,
        uint8 outcome,
        uint32 units,
        uint64 observedAt
    );
    event ConfigSet(RewardsConfig config, address[] publishers, address[] validators);

    error InvalidConfig();
    error NotAPublisher(address caller);
    error NotAValidator(address signer);
    error EpochNotClosed(uint256 epoch, uint256 closesAt);
    error EpochAlreadyFinal(uint256 epoch);
    error InvalidRoot();
    error TotalOutOfRange(uint256 total, uint256 max);
    error AlreadyVoted(address publisher);
    error UnknownProposal(uint256 epoch, bytes32 root);
    error BelowThreshold(uint8 approvals, uint256 needed);
    error ChallengeWindowOpen(uint256 readyAt);
    error PoolTooSmall(uint256 free, uint256 needed);
    error EpochNotFinal(uint256 epoch);
    error ClaimWindowClosed(uint256 closedAt);
    error ClaimWindowOpen(uint256 closesAt);
    error AlreadyClaimed(uint256 epoch, address account);
    error InvalidProof();
    error ClaimExceedsTotal(uint256 epoch);
    error ZeroAmount();
    error LengthMismatch();
    error EpochNotEnded(uint256 epoch, uint256 endsAt);
    error ReportWindowClosed(uint256 epoch, uint256 closedAt);
    error InvalidReport();

    constructor(IERC20 token_, RewardsConfig memory c, address[] memory publishers_, address[] memory validators_)
        EIP712("Lilypad Rewards", "1")
    {
        uint256 n = publishers_.length;
        if (
            c.epochLength == 0 || c.claimWindow == 0 || c.maxPerEpoch == 0 || c.threshold == 0 || n < c.threshold
                || n > type(uint8).max
        ) revert InvalidConfig();
        // A single signature alone must always be open to someone else's veto.
        if (c.threshold == 1 && (n < 2 || c.challengeDelay == 0)) revert InvalidConfig();
        token = token_;
        genesis = c.genesis;
        epochLength = c.epochLength;
        reportWindow = c.reportWindow;
        challengeDelay = c.challengeDelay;
        claimWindow = c.claimWindow;
        maxPerEpoch = c.maxPerEpoch;
        threshold = c.threshold;
        rulesHash = c.rulesHash;
        for (uint256 i; i < n; ++i) {
            address p = publishers_[i];
            if (p == address(0) || isPublisher[p]) revert InvalidConfig();
            isPublisher[p] = true;
            publisherList.push(p);
        }
        for (uint256 i; i < validators_.length; ++i) {
            address v = validators_[i];
            if (v == address(0) || isValidator[v]) revert InvalidConfig();
            isValidator[v] = true;
            validatorList.push(v);
        }
        emit ConfigSet(c, publishers_, validators_);
    }

    // ---- views ----

    function config() external view returns (RewardsConfig memory) {
        return RewardsConfig(
            genesis, epochLength, reportWindow, challengeDelay, claimWindow, maxPerEpoch, threshold, rulesHash
        );
    }

    function publishers() external view returns (address[] memory) {
        return publisherList;
    }

    function validators() external view returns (address[] memory) {
        return validatorList;
    }

    /// The epoch `timestamp` falls in (timestamps before genesis count as epoch 0).
    function epochAt(uint256 timestamp) public view returns (uint256) {
        return timestamp <= genesis ? 0 : (timestamp - genesis) / epochLength;
    }

    function epochEnd(uint256 epoch) public view returns (uint256) {
        return uint256(genesis) + (epoch + 1) * epochLength;
    }

    /// LP not promised to any final root: what a new root may distribute.
    function freeBalance() public view returns (uint256) {
        uint256 bal = token.balanceOf(address(this));
        return bal > outstanding ? bal - outstanding : 0;
    }

    function proposalKey(bytes32 root, uint96 total) public pure returns (bytes32) {
        return keccak256(abi.encode(root, total));
    }

    function leafHash(uint256 epoch, address account, uint256 amount) public pure returns (bytes32) {
        // Double hashing keeps a leaf from passing as an inner node (protocols/incentives/merkle.ts builds the tree).
        return keccak256(bytes.concat(keccak256(abi.encode(epoch, account, amount))));
    }

    function reportId(CanaryReport calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(CANARY_REPORT_TYPEHASH, r.epoch, r.provider, r.dealId, r.outcome, r.units, r.observedAt))
        );
    }

    // ---- pool ----

    /// Anyone may add to the pool (a plain token transfer works too).
    function fund(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit Funded(msg.sender, amount);
    }

    // ---- roots ----

    /// Proposes a root, or approves the same (root, total) another publisher proposed. Each publisher is expected to
    /// have computed it itself (`lilypad rewards compute`); only identical proposals add up.
    function proposeRoot(uint256 epoch, bytes32 root, uint96 total) external {
        _onlyPublisher();
        uint256 closesAt = epochEnd(epoch) + reportWindow;
        if (block.timestamp < closesAt) revert EpochNotClosed(epoch, closesAt);
        if (epochs[epoch].finalizedAt != 0) revert EpochAlreadyFinal(epoch);
        if (root == bytes32(0)) revert InvalidRoot();
        if (total == 0 || total > maxPerEpoch) revert TotalOutOfRange(total, maxPerEpoch);
        bytes32 key = _vote(epoch, root, total);
        Proposal memory p = proposals[epoch][key];
        p.approvals += 1;
        if (p.readyAt == 0 && p.approvals >= uint256(threshold) + p.vetoes) p.readyAt = uint40(block.timestamp + challengeDelay);
        proposals[epoch][key] = p;
        emit RootProposed(epoch, root, total, msg.sender, p.approvals, p.readyAt);
    }

    /// Any publisher can object to a root that is not final (one that does not match its own computation): the root
    /// then needs one more approval, and its delay starts again once it has them.
    function vetoRoot(uint256 epoch, bytes32 root, uint96 total) external {
        _onlyPublisher();
        if (epochs[epoch].finalizedAt != 0) revert EpochAlreadyFinal(epoch);
        Proposal memory p = proposals[epoch][proposalKey(root, total)];
        if (p.approvals == 0) revert UnknownProposal(epoch, root);
        bytes32 key = _vote(epoch, root, total);
        p.vetoes += 1;
        p.readyAt = p.approvals >= uint256(threshold) + p.vetoes ? uint40(block.timestamp + challengeDelay) : 0;
        proposals[epoch][key] = p;
        emit RootVetoed(epoch, root, total, msg.sender, p.vetoes, p.readyAt);
    }

    /// Anyone may make a root final once it has its approvals, survived the challenge delay, and the pool covers it.
    function finalize(uint256 epoch, bytes32 root, uint96 total) external {
        if (epochs[epoch].finalizedAt != 0) revert EpochAlreadyFinal(epoch);
        Proposal memory p = proposals[epoch][proposalKey(root, total)];
        if (p.approvals == 0) revert UnknownProposal(epoch, root);
        uint256 needed = uint256(threshold) + p.vetoes;
        if (p.approvals < needed) revert BelowThreshold(p.approvals, needed);
        if (block.timestamp < p.readyAt) revert ChallengeWindowOpen(p.readyAt);
        uint256 free = freeBalance();
        if (free < total) revert PoolTooSmall(free, total);
        epochs[epoch] = EpochRoot(root, total, 0, uint40(block.timestamp), false);
        outstanding += total;
        emit RootFinalized(epoch, root, total);
    }

    // ---- claims ----

    /// Pays `amount` to `account` (anyone may submit it) once per epoch and account, against the epoch's final root.
    function claim(uint256 epoch, address account, uint256 amount, bytes32[] calldata proof) public {
        EpochRoot storage e = epochs[epoch];
        if (e.finalizedAt == 0) revert EpochNotFinal(epoch);
        uint256 closesAt = uint256(e.finalizedAt) + claimWindow;
        if (e.expired || block.timestamp > closesAt) revert ClaimWindowClosed(closesAt);
        if (claimed[epoch][account]) revert AlreadyClaimed(epoch, account);
        if (amount == 0) revert ZeroAmount();
        if (!MerkleProof.verifyCalldata(proof, e.root, leafHash(epoch, account, amount))) revert InvalidProof();
        // A root whose leaves add up to more than it declared pays out at most its declared total.
        if (uint256(e.claimed) + amount > e.total) revert ClaimExceedsTotal(epoch);
        claimed[epoch][account] = true;
        e.claimed += uint96(amount);
        outstanding -= amount;
        token.safeTransfer(account, amount);
        emit Claimed(epoch, account, amount);
    }

    function claimMany(Claim[] calldata batch) external {
        for (uint256 i; i < batch.length; ++i) claim(batch[i].epoch, batch[i].account, batch[i].amount, batch[i].proof);
    }

    /// After the claim window, what nobody claimed returns to the pool for later epochs.
    function expire(uint256 epoch) external {
        EpochRoot storage e = epochs[epoch];
        if (e.finalizedAt == 0) revert EpochNotFinal(epoch);
        uint256 closesAt = uint256(e.finalizedAt) + claimWindow;
        if (block.timestamp <= closesAt) revert ClaimWindowOpen(closesAt);
        if (e.expired) revert ClaimWindowClosed(closesAt);
        e.expired = true;
        uint256 rest = uint256(e.total) - e.claimed;
        outstanding -= rest;
        emit EpochExpired(epoch, rest);
    }

    // ---- canary reports ----

    /// Records validators' signed canary reports; anyone may submit them (a provider holding a report of its pass can
    /// record it itself). Only after the report's epoch has ended — a canary is revealed when it can no longer be told
    /// apart — and before its report window closes, so an epoch's inputs are frozen before its root is computed.
    /// A report already recorded, or a second report on the same deal, is skipped (a batch is not undone by
    /// someone recording one of its reports first).
    function recordCanaries(CanaryReport[] calldata reports, bytes[] calldata signatures) external {
        if (reports.length != signatures.length) revert LengthMismatch();
        for (uint256 i; i < reports.length; ++i) {
            CanaryReport calldata r = reports[i];
            uint256 endsAt = epochEnd(r.epoch);
            if (block.timestamp < endsAt) revert EpochNotEnded(r.epoch, endsAt);
            if (block.timestamp >= endsAt + reportWindow) revert ReportWindowClosed(r.epoch, endsAt + reportWindow);
            if (r.outcome == 0 || r.outcome > OUTCOME_UNREACHABLE || r.provider == address(0)) revert InvalidReport();
            // only an unreachable provider has no deal to point at
            if ((r.outcome == OUTCOME_UNREACHABLE) != (r.dealId == bytes32(0))) revert InvalidReport();
            bytes32 id = reportId(r);
            address signer = ECDSA.recover(id, signatures[i]);
            if (!isValidator[signer]) revert NotAValidator(signer);
            bytes32 seen = r.dealId != bytes32(0) ? r.dealId : id;
            if (reported[seen]) continue;
            reported[seen] = true;
            emit CanaryRecorded(r.epoch, r.provider, signer, id, r.dealId, r.outcome, r.units, r.observedAt);
        }
    }

    function _vote(uint256 epoch, bytes32 root, uint96 total) internal returns (bytes32 key) {
        key = proposalKey(root, total);
        if (votedBy[epoch][key][msg.sender]) revert AlreadyVoted(msg.sender);
        votedBy[epoch][key][msg.sender] = true;
    }

    function _onlyPublisher() internal view {
        if (!isPublisher[msg.sender]) revert NotAPublisher(msg.sender);
    }
}
