// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Deal, DealStates, JobOffer, JobOfferHashing} from "./LilypadTypes.sol";
import {Market} from "./Market.sol";
import {Directory} from "./Directory.sol";
import {CanonicalInputs} from "./CanonicalInputs.sol";
import {IJobManager} from "../package/IJobManager.sol";
import {ILilypadJobClient} from "../package/ILilypadJobClient.sol";
import {ILilypadToken} from "../package/ILilypadToken.sol";

/// Contract-triggered jobs. A client contract pays the quote up front; a bridge — a node the Directory's owner
/// approved and that keeps a bond here — runs the job through the network as an ordinary deal in which it is the
/// job creator, and completes it with that deal. A completion is accepted only if
///   - the deal names the job offer the bridge passes (its EIP-712 id under the Market's domain), and that job
///     offer asked for exactly the client's module and canonical inputs;
///   - the Market holds that deal's result as the CID handed over, standing (not under challenge, not judged
///     wrong), and the deal completed no other job;
///   - the bridge locks the job's payment plus `jobBond` from its bond until the dispute window closes.
/// The client can dispute within that window: a Directory mediator, drawn after the dispute's block from its hash
/// (`drawJobMediator`), re-runs the job. A wrong result
/// costs the bridge the locked amount (the client gets its payment, its fee and the rest of it; the mediator its
/// fee), so a bridge that lies loses more than the job pays. Otherwise `release` pays the bridge.
///
/// Callbacks get exactly the gas the client paid for: the call is refused (reverting the whole transaction) when
/// less is left, so a gas limit from eth_estimateGas cannot starve it. State and funds are final before the call;
/// a failed callback is recorded and anyone may deliver it again.
contract JobManager is IJobManager, Ownable {
    using SafeERC20 for IERC20;

    /// Three slots per job; `ref` is the request's hash (module, inputs) until delivery, then the deal id.
    struct Job {
        address client;
        uint96 payment;
        address bridge;
        uint40 deadline;
        JobStatus status;
        uint32 callbackGasLimit;
        bool callbackPending;
        bytes32 ref;
    }

    /// Hash of what the last callback carried (the output, or the failure reason), so a retry delivers the same.
    struct Delivery {
        bytes28 payloadHash;
        int32 exitCode;
    }

    /// One slot. Until the draw `mediator` is zero and `deadline` counts from the dispute's start; the draw moves it
    /// to the draw's time plus the mediation window.
    struct Dispute {
        address mediator;
        uint40 deadline;
        /// the block the dispute started in: the mediator is drawn from its hash, from the next block to 256 after
        uint40 blockNumber;
    }

    struct BondAccount {
        uint128 free;
        uint128 locked;
    }

    uint256 public constant MAX_OUTPUT_BYTES = 1024;
    uint256 public constant MAX_REASON_BYTES = 256;
    uint256 public constant MAX_INPUTS = 32;
    uint256 public constant MAX_KEY_BYTES = 64;
    uint256 public constant MAX_INPUT_BYTES = 4096;
    uint256 public constant MAX_MODULE_BYTES = 256;
    /// Module and callback-gas prices are capped so a quote always fits a uint96 payment.
    uint256 internal constant MAX_PRICE = type(uint96).max >> 1;
    /// Gas kept for the work around the client call (the call itself, the failure event).
    uint256 internal constant CALLBACK_OVERHEAD = 20_000;
    /// A failing client's revert data is cut to this, so it cannot make the bridge pay for copying megabytes.
    uint256 internal constant MAX_RETURN_BYTES = 256;
    string internal constant JUDGED_WRONG = "result judged wrong";
    string internal constant EXPIRED = "expired";
    /// BLOCKHASH answers for the last 256 blocks only
    uint256 internal constant DRAW_BLOCKS = 256;
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    IERC20 internal immutable lp;
    Market public immutable market;
    Directory public immutable directory;

    uint32 internal immutable minTimeout;
    uint32 internal immutable maxTimeout;
    uint32 internal immutable minCallbackGas;
    uint32 internal immutable maxCallbackGas;
    uint32 internal immutable disputeWindow;
    uint32 internal immutable mediationWindow;
    uint96 internal immutable jobBond;
    uint96 internal immutable disputeFee;
    bytes32 internal immutable cachedDomainSeparator;
    uint256 internal immutable cachedChainId;

    uint96 public callbackGasPrice;
    mapping(bytes32 => uint96) internal modulePrices;
    uint256 public nextJobId = 1;
    mapping(uint256 => Job) internal jobs;
    mapping(uint256 => Delivery) internal deliveries;
    mapping(uint256 => string) internal resultCids;
    mapping(uint256 => Dispute) public disputes;
    mapping(bytes32 => bool) public dealUsed;
    mapping(address => BondAccount) public bonds;

    constructor(IERC20 token_, Market market_, Directory directory_, Config memory c, address owner_)
        Ownable(owner_)
    {
        if (
            c.minTimeout == 0 || c.minTimeout > c.maxTimeout || c.minCallbackGas > c.maxCallbackGas
                || c.maxCallbackGas == 0 || c.disputeWindow == 0 || c.mediationWindow == 0 || c.disputeFee == 0
                || c.jobBond < c.disputeFee || c.jobBond > MAX_PRICE
        ) revert InvalidConfig();
        lp = token_;
        market = market_;
        directory = directory_;
        minTimeout = c.minTimeout;
        maxTimeout = c.maxTimeout;
        minCallbackGas = c.minCallbackGas;
        maxCallbackGas = c.maxCallbackGas;
        disputeWindow = c.disputeWindow;
        mediationWindow = c.mediationWindow;
        jobBond = c.jobBond;
        disputeFee = c.disputeFee;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator();
    }

    // ---- prices (owner) ----

    /// Offers a module at `price` LP wei per job, or withdraws it (price 0). Only offered modules can be requested.
    function setModulePrice(string calldata module, uint96 price) external onlyOwner {
        uint256 len = bytes(module).length;
        if (len == 0 || len > MAX_MODULE_BYTES) revert InvalidModule();
        if (price > MAX_PRICE) revert PriceTooHigh(price, MAX_PRICE);
        modulePrices[keccak256(bytes(module))] = price;
        emit ModulePriceSet(keccak256(bytes(module)), module, price);
    }

    function setCallbackGasPrice(uint96 price) external onlyOwner {
        uint256 most = MAX_PRICE / maxCallbackGas;
        if (price > most) revert PriceTooHigh(price, most);
        callbackGasPrice = price;
        emit CallbackGasPriceSet(price);
    }

    // ---- reads ----

    function quote(string calldata module, uint32 callbackGasLimit) public view returns (uint256) {
        uint96 base = modulePrices[keccak256(bytes(module))];
        if (base == 0) revert ModuleNotOffered(module);
        if (callbackGasLimit < minCallbackGas || callbackGasLimit > maxCallbackGas) {
            revert CallbackGasOutOfBounds(callbackGasLimit, minCallbackGas, maxCallbackGas);
        }
        return uint256(base) + uint256(callbackGasLimit) * callbackGasPrice;
    }

    function modulePrice(string calldata module) external view returns (uint96) {
        return modulePrices[keccak256(bytes(module))];
    }

    function config() external view returns (Config memory) {
        return Config(minTimeout, maxTimeout, minCallbackGas, maxCallbackGas, disputeWindow, mediationWindow, jobBond, disputeFee);
    }

    function token() external view returns (ILilypadToken) {
        return ILilypadToken(address(lp));
    }

    function inputsJson(Input[] calldata inputs) external pure returns (string memory) {
        return string(CanonicalInputs.toJson(inputs, MAX_INPUTS, MAX_KEY_BYTES, MAX_INPUT_BYTES));
    }

    /// The job offer's id as a deal names it: its EIP-712 digest under the Market's domain.
    function jobOfferId(JobOffer calldata offer) external view returns (bytes32) {
        return _offerId(offer, keccak256(bytes(offer.module)), keccak256(bytes(offer.inputs)));
    }

    function resultOf(uint256 jobId) external view returns (JobResult memory r) {
        Job memory job = jobs[jobId];
        r.status = job.status;
        r.client = job.client;
        r.bridge = job.bridge;
        r.payment = job.payment;
        r.deadline = job.status == JobStatus.Disputed ? disputes[jobId].deadline : job.deadline;
        r.callbackGasLimit = job.callbackGasLimit;
        r.callbackPending = job.callbackPending;
        if (_delivered(job.status)) {
            r.dealId = job.ref;
            r.exitCode = deliveries[jobId].exitCode;
            r.resultCid = resultCids[jobId];
        }
    }

    // ---- the client ----

    function runJob(
        string calldata module,
        Input[] calldata inputs,
        uint32 callbackGasLimit,
        uint32 timeout,
        uint256 maxPayment
    ) external returns (uint256 jobId) {
        uint256 price = quote(module, callbackGasLimit);
        if (timeout < minTimeout || timeout > maxTimeout) revert TimeoutOutOfBounds(timeout, minTimeout, maxTimeout);
        bytes memory json = CanonicalInputs.toJson(inputs, MAX_INPUTS, MAX_KEY_BYTES, MAX_INPUT_BYTES);
        if (maxPayment < price) revert PaymentBelowQuote(maxPayment, price);
        jobId = nextJobId++;
        uint40 deadline = uint40(block.timestamp + timeout);
        jobs[jobId] = Job({
            client: msg.sender,
            payment: uint96(price),
            bridge: address(0),
            deadline: deadline,
            status: JobStatus.Open,
            callbackGasLimit: callbackGasLimit,
            callbackPending: false,
            ref: _requestHash(keccak256(bytes(module)), keccak256(json))
        });
        lp.safeTransferFrom(msg.sender, address(this), price);
        emit JobRequested(jobId, msg.sender, module, string(json), uint96(price), callbackGasLimit, deadline);
    }

    function cancelJob(uint256 jobId) external {
        Job storage job = jobs[jobId];
        address client = job.client;
        if (msg.sender != client) revert NotClient(msg.sender, client);
        if (job.status != JobStatus.Open) revert WrongJobStatus(jobId, job.status);
        job.status = JobStatus.Cancelled;
        uint96 payment = job.payment;
        lp.safeTransfer(client, payment);
        emit JobCancelled(jobId, client);
        emit JobRefunded(jobId, client, payment);
    }

    function refundExpired(uint256 jobId) external {
        Job memory job = jobs[jobId];
        if (job.status != JobStatus.Open && job.status != JobStatus.PickedUp) revert WrongJobStatus(jobId, job.status);
        if (block.timestamp <= job.deadline) revert JobNotExpired(jobId, job.deadline);
        _refund(jobId, job, JobStatus.Expired, EXPIRED);
    }

    function disputeJob(uint256 jobId) external {
        Job storage job = jobs[jobId];
        address client = job.client;
        if (msg.sender != client) revert NotClient(msg.sender, client);
        if (job.status != JobStatus.Delivered) revert WrongJobStatus(jobId, job.status);
        if (block.timestamp > job.deadline) revert DisputeWindowClosed(jobId, job.deadline);
        job.status = JobStatus.Disputed;
        // nobody is drawn in this block: its hash does not exist yet (`drawJobMediator`)
        disputes[jobId] = Dispute(address(0), uint40(block.timestamp + mediationWindow), uint40(block.number));
        lp.safeTransferFrom(client, address(this), disputeFee);
        emit JobDisputed(jobId, client, address(0), job.ref);
    }

    /// Fixes a disputed job's mediator from its dispute block B's hash (anyone, from B + 1 to B + 256); the mediation
    /// window starts now. Past B + 256 nobody can be drawn: the dispute times out as a silent mediator's would.
    function drawJobMediator(uint256 jobId) external {
        Job storage job = jobs[jobId];
        if (job.status != JobStatus.Disputed) revert WrongJobStatus(jobId, job.status);
        Dispute storage d = disputes[jobId];
        if (d.mediator != address(0)) revert MediatorAlreadyDrawn(jobId);
        uint256 b = d.blockNumber;
        if (block.number <= b) revert MediatorDrawNotReady();
        if (block.number - b > DRAW_BLOCKS) revert MediatorDrawClosed();
        address client = job.client;
        address mediator = _drawMediator(uint256(keccak256(abi.encode(jobId, blockhash(b)))), client, job.bridge);
        d.mediator = mediator;
        d.deadline = uint40(block.timestamp + mediationWindow);
        emit JobMediatorDrawn(jobId, client, mediator);
    }

    function retryCallback(uint256 jobId, bytes calldata payload) external {
        Job memory job = jobs[jobId];
        if (!job.callbackPending) revert CallbackNotPending(jobId);
        Delivery memory d = deliveries[jobId];
        if (bytes28(keccak256(payload)) != d.payloadHash) revert PayloadMismatch(jobId);
        jobs[jobId].callbackPending = false;
        bool completed = job.status == JobStatus.Delivered || job.status == JobStatus.Disputed
            || job.status == JobStatus.Completed;
        bytes memory data = completed
            ? abi.encodeCall(ILilypadJobClient.lilypadJobCompleted, (jobId, resultCids[jobId], d.exitCode, payload))
            : abi.encodeCall(ILilypadJobClient.lilypadJobFailed, (jobId, string(payload)));
        if (_callback(jobId, job.client, job.callbackGasLimit, data)) emit ClientCallbackDelivered(jobId);
    }

    // ---- bridges ----

    function depositBond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        bonds[msg.sender].free += SafeCast.toUint128(amount);
        lp.safeTransferFrom(msg.sender, address(this), amount);
        emit BondDeposited(msg.sender, amount);
    }

    /// Takes out free funds: bond not locked by a job in its dispute window, and payments released.
    function withdrawBond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        BondAccount storage b = bonds[msg.sender];
        if (b.free < amount) revert BondTooLow(msg.sender, b.free, amount);
        b.free -= uint128(amount);
        lp.safeTransfer(msg.sender, amount);
        emit BondWithdrawn(msg.sender, amount);
    }

    /// A bridge claims a job before spending anything on it: from now on only it may complete or fail the job,
    /// and the client can no longer cancel.
    function pickUpJob(uint256 jobId) external {
        _onlyBridge();
        Job storage job = jobs[jobId];
        if (job.status != JobStatus.Open) revert WrongJobStatus(jobId, job.status);
        if (block.timestamp > job.deadline) revert JobExpired(jobId, job.deadline);
        job.status = JobStatus.PickedUp;
        job.bridge = msg.sender;
        emit JobPickedUp(jobId, msg.sender);
    }

    function completeJob(
        uint256 jobId,
        JobOffer calldata offer,
        Deal calldata deal,
        string calldata resultCid,
        int32 exitCode,
        bytes calldata output
    ) external {
        _onlyBridge();
        Job memory job = _claimable(jobId);
        if (block.timestamp > job.deadline) revert JobExpired(jobId, job.deadline);
        if (output.length > MAX_OUTPUT_BYTES) revert OutputTooLong(output.length, MAX_OUTPUT_BYTES);
        if (deal.jobCreator != msg.sender) revert NotDealJobCreator(msg.sender, deal.jobCreator);
        if (offer.jobCreator != msg.sender) revert NotDealJobCreator(msg.sender, offer.jobCreator);
        bytes32 moduleHash = keccak256(bytes(offer.module));
        bytes32 inputsHash = keccak256(bytes(offer.inputs));
        bytes32 offerId = _offerId(offer, moduleHash, inputsHash);
        if (offerId != deal.jobOfferId) revert JobOfferMismatch(deal.jobOfferId, offerId);
        if (_requestHash(moduleHash, inputsHash) != job.ref) revert RequestMismatch(jobId);
        bytes32 dealId = market.dealId(deal);
        if (dealUsed[dealId]) revert DealAlreadyUsed(dealId);
        _checkStandingResult(dealId, resultCid);

        uint256 lock = uint256(job.payment) + jobBond;
        BondAccount storage b = bonds[msg.sender];
        if (b.free < lock) revert BondTooLow(msg.sender, b.free, lock);
        b.free -= uint128(lock);
        b.locked += uint128(lock);
        dealUsed[dealId] = true;

        uint40 disputeDeadline = uint40(block.timestamp + disputeWindow);
        Job storage s = jobs[jobId];
        s.bridge = msg.sender;
        s.deadline = disputeDeadline;
        s.status = JobStatus.Delivered;
        s.ref = dealId;
        deliveries[jobId] = Delivery(bytes28(keccak256(output)), exitCode);
        resultCids[jobId] = resultCid;
        emit JobCompleted(jobId, msg.sender, dealId, resultCid, exitCode, output, disputeDeadline);
        _callback(
            jobId,
            job.client,
            job.callbackGasLimit,
            abi.encodeCall(ILilypadJobClient.lilypadJobCompleted, (jobId, resultCid, exitCode, output))
        );
    }

    /// A bridge gives up on a job it may handle (open, or picked up by itself), also after its deadline; the
    /// client is refunded and told why.
    function failJob(uint256 jobId, string calldata reason) external {
        _onlyBridge();
        if (bytes(reason).length > MAX_REASON_BYTES) revert ReasonTooLong(bytes(reason).length, MAX_REASON_BYTES);
        Job memory job = _claimable(jobId);
        emit JobFailed(jobId, msg.sender, reason);
        _refund(jobId, job, JobStatus.Failed, reason);
    }

    /// Pays bridges for delivered jobs whose dispute window has passed (anyone may call; all or nothing).
    function release(uint256[] calldata jobIds) external {
        for (uint256 i; i < jobIds.length; ++i) {
            uint256 jobId = jobIds[i];
            Job storage job = jobs[jobId];
            if (job.status != JobStatus.Delivered) revert WrongJobStatus(jobId, job.status);
            if (block.timestamp <= job.deadline) revert DisputeWindowOpen(jobId, job.deadline);
            job.status = JobStatus.Completed;
            _payBridge(jobId, job.bridge, job.payment);
        }
    }

    // ---- job disputes ----

    /// The drawn mediator's verdict. Correct: the bridge is paid, the mediator takes the client's fee. Wrong: the
    /// bridge's lock (payment + jobBond) is slashed; the mediator takes its fee from it, the client gets the rest,
    /// its payment and its fee back, and is called back with `lilypadJobFailed(jobId, "result judged wrong")`.
    function mediateJob(uint256 jobId, bool resultCorrect) external {
        Job storage job = jobs[jobId];
        if (job.status != JobStatus.Disputed) revert WrongJobStatus(jobId, job.status);
        Dispute memory d = disputes[jobId];
        if (msg.sender != d.mediator) revert NotJobMediator(msg.sender, d.mediator);
        if (block.timestamp > d.deadline) revert MediationWindowClosed(jobId, d.deadline);
        emit JobMediated(jobId, msg.sender, resultCorrect);
        if (resultCorrect) {
            job.status = JobStatus.Completed;
            _payBridge(jobId, job.bridge, job.payment);
            lp.safeTransfer(msg.sender, disputeFee);
            return;
        }
        Job memory j = job;
        uint256 lock = uint256(j.payment) + jobBond;
        bonds[j.bridge].locked -= uint128(lock);
        emit BondSlashed(j.bridge, jobId, lock);
        lp.safeTransfer(msg.sender, disputeFee);
        // payment back, fee back, and the slashed lock less the mediator's fee
        _refundWith(jobId, j, JobStatus.Overturned, JUDGED_WRONG, uint256(j.payment) + lock);
    }

    /// No verdict in time: the mediator failed, not the parties. The result stands, the bridge is paid and the
    /// client gets its fee back. Undrawn, the window counts from the dispute's start (a mediator never drawn is
    /// silent: waiting past the 256 blocks gives nobody what the drawn mediator's silence would not).
    function timeoutJobDispute(uint256 jobId) external {
        Job storage job = jobs[jobId];
        if (job.status != JobStatus.Disputed) revert WrongJobStatus(jobId, job.status);
        Dispute memory d = disputes[jobId];
        if (block.timestamp <= d.deadline) revert MediationWindowOpen(jobId, d.deadline);
        job.status = JobStatus.Completed;
        emit JobDisputeTimedOut(jobId, d.mediator);
        _payBridge(jobId, job.bridge, job.payment);
        lp.safeTransfer(job.client, disputeFee);
    }

    // ---- internals ----

    function _onlyBridge() internal view {
        if (!directory.isBridge(msg.sender)) revert NotABridge(msg.sender);
    }

    /// Open (any bridge), or picked up by the caller.
    function _claimable(uint256 jobId) internal view returns (Job memory job) {
        job = jobs[jobId];
        if (job.status == JobStatus.PickedUp) {
            if (job.bridge != msg.sender) revert PickedUpByAnother(jobId, job.bridge);
        } else if (job.status != JobStatus.Open) {
            revert WrongJobStatus(jobId, job.status);
        }
    }

    /// The Market holds `resultCid` as the deal's result, and stands by it: submitted and not challenged, settled,
    /// or upheld by a mediator (or left standing by one that did not answer).
    function _checkStandingResult(bytes32 dealId, string calldata resultCid) internal view {
        (uint8 state,,,, bytes22 resultHash) = market.deals(dealId);
        if (bytes(resultCid).length == 0 || resultHash != bytes22(keccak256(bytes(resultCid)))) {
            revert ResultMismatch(dealId);
        }
        if (
            state != DealStates.ResultSubmitted && state != DealStates.Settled && state != DealStates.MediatedCorrect
                && state != DealStates.TimedOutMediation
        ) revert ResultNotStanding(dealId, state);
    }

    function _refund(uint256 jobId, Job memory job, JobStatus status, string memory reason) internal {
        _refundWith(jobId, job, status, reason, job.payment);
    }

    /// Closes the job in `status`, pays the client `amount` and calls it back with the failure reason.
    function _refundWith(uint256 jobId, Job memory job, JobStatus status, string memory reason, uint256 amount)
        internal
    {
        Job storage s = jobs[jobId];
        s.status = status;
        s.callbackPending = false;
        if (job.client.code.length != 0) deliveries[jobId].payloadHash = bytes28(keccak256(bytes(reason)));
        lp.safeTransfer(job.client, amount);
        emit JobRefunded(jobId, job.client, amount);
        _callback(jobId, job.client, job.callbackGasLimit, abi.encodeCall(ILilypadJobClient.lilypadJobFailed, (jobId, reason)));
    }

    /// Credits the payment and unlocks the job's bond.
    function _payBridge(uint256 jobId, address bridge, uint96 payment) internal {
        uint256 lock = uint256(payment) + jobBond;
        BondAccount storage b = bonds[bridge];
        b.locked -= uint128(lock);
        b.free += uint128(lock + payment);
        emit JobReleased(jobId, bridge, payment);
    }

    /// From the Directory's mediators at `start` mod n, skipping the job's own parties (a mediator that is also the
    /// bridge or the client would judge its own case).
    function _drawMediator(uint256 start, address client, address bridge) internal view returns (address) {
        uint256 n = directory.mediatorCount();
        for (uint256 k; k < n && k < 3; ++k) {
            address m = directory.mediatorAt((start + k) % n);
            if (m != client && m != bridge) return m;
        }
        revert NoMediatorAvailable();
    }

    /// Returns whether the client took the call. EOAs have nothing to call. Reverts when less gas is left than
    /// the client paid for (so the caller's gas estimate has to include the whole callback).
    function _callback(uint256 jobId, address client, uint32 gasLimit, bytes memory data) internal returns (bool ok) {
        if (client.code.length == 0) return true;
        uint256 needed = uint256(gasLimit) + gasLimit / 63 + CALLBACK_OVERHEAD;
        uint256 available = gasleft();
        if (available < needed) revert InsufficientCallbackGas(available, needed);
        uint256 maxReturn = MAX_RETURN_BYTES;
        bytes memory reason;
        assembly {
            ok := call(gasLimit, client, 0, add(data, 0x20), mload(data), 0, 0)
            if iszero(ok) {
                let size := returndatasize()
                if gt(size, maxReturn) { size := maxReturn }
                reason := mload(0x40)
                mstore(reason, size)
                returndatacopy(add(reason, 0x20), 0, size)
                mstore(0x40, add(add(reason, 0x20), and(add(size, 31), not(31))))
            }
        }
        if (!ok) {
            jobs[jobId].callbackPending = true;
            emit ClientCallbackFailed(jobId, client, reason);
        }
    }

    function _delivered(JobStatus s) internal pure returns (bool) {
        return s == JobStatus.Delivered || s == JobStatus.Disputed || s == JobStatus.Completed
            || s == JobStatus.Overturned;
    }

    function _requestHash(bytes32 moduleHash, bytes32 inputsHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(moduleHash, inputsHash));
    }

    function _offerId(JobOffer calldata offer, bytes32 moduleHash, bytes32 inputsHash) internal view returns (bytes32) {
        bytes32 separator = block.chainid == cachedChainId ? cachedDomainSeparator : _buildDomainSeparator();
        return MessageHashUtils.toTypedDataHash(separator, JobOfferHashing.structHash(offer, moduleHash, inputsHash));
    }

    /// The Market's EIP-712 domain (protocols/eip712.ts `domainOf`): a job offer is signed under it.
    function _buildDomainSeparator() internal view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("Lilypad"), keccak256("1"), block.chainid, address(market))
        );
    }
}
