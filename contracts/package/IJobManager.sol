// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ILilypadToken} from "./ILilypadToken.sol";

/// The Lilypad JobManager as a client contract sees it: ask the price, request a job, get a callback.
///
///   1. `quote(module, callbackGasLimit)` – the price in LP (module price + callback gas at the network's rate).
///   2. approve the LP token for at least that, then `runJob(module, inputs, callbackGasLimit, timeout, maxPayment)`;
///      exactly the quote is taken (never more than `maxPayment`), and the job id returned.
///   3. a bridge (a node the network approved and that bonded LP) picks the job up (`JobPickedUp`), runs it on the
///      Lilypad network and completes it: your contract's `lilypadJobCompleted` is called with the result CID, the
///      exit code and the first 1 KiB of stdout. Or it fails it (`lilypadJobFailed`), and you are refunded.
///   4. until the dispute window closes you may `disputeJob` (paying `disputeFee`): a mediator the network
///      approved, drawn from the hash of your dispute's block by anyone's `drawJobMediator` after it (the bridge's
///      node sends it at once), re-runs the job; if the result was wrong you get your payment back, your fee back and the bridge's
///      slashed bond, and `lilypadJobFailed(jobId, "result judged wrong")`.
///
/// Inputs are key/value pairs given in strictly ascending key order (byte order; keys are identifiers:
/// [A-Za-z_][A-Za-z0-9_]*); the JobManager turns them into the canonical JSON object the job carries
/// (`inputsJson`), and a completion is accepted only for a deal that ran exactly that module with exactly those
/// inputs.
interface IJobManager {
    enum JobStatus {
        None,
        Open, // requested, no bridge yet: the client may cancel
        PickedUp, // a bridge is running it
        Delivered, // completed; the dispute window is open, the bridge not yet paid
        Disputed, // a mediator is re-running it
        Completed, // final: the bridge was paid
        Failed, // final: a bridge gave up; the client was refunded
        Expired, // final: the deadline passed without a result; the client was refunded
        Cancelled, // final: cancelled by the client before pickup; refunded
        Overturned // final: the result was judged wrong; the client was refunded and compensated
    }

    struct Input {
        string key;
        string value;
    }

    /// What `resultOf` reports. `deadline` is the request deadline while Open/PickedUp, the end of the dispute
    /// window once Delivered, the mediator's deadline while Disputed.
    struct JobResult {
        JobStatus status;
        address client;
        address bridge;
        uint96 payment;
        uint40 deadline;
        uint32 callbackGasLimit;
        bool callbackPending;
        int32 exitCode;
        bytes32 dealId;
        string resultCid;
    }

    /// Network parameters, fixed at deployment.
    struct Config {
        uint32 minTimeout;
        uint32 maxTimeout;
        uint32 minCallbackGas;
        uint32 maxCallbackGas;
        /// seconds after delivery during which the client may dispute
        uint32 disputeWindow;
        /// seconds the drawn mediator has for its verdict
        uint32 mediationWindow;
        /// LP a bridge locks per delivered job on top of the job's payment (slashed if the result is judged wrong)
        uint96 jobBond;
        /// LP a client pays to dispute; the mediator's fee (the loser pays it)
        uint96 disputeFee;
    }

    event JobRequested(
        uint256 indexed jobId,
        address indexed client,
        string module,
        string inputs,
        uint96 payment,
        uint32 callbackGasLimit,
        uint40 deadline
    );
    event JobCancelled(uint256 indexed jobId, address indexed client);
    event JobPickedUp(uint256 indexed jobId, address indexed bridge);
    event JobCompleted(
        uint256 indexed jobId,
        address indexed bridge,
        bytes32 indexed dealId,
        string resultCid,
        int32 exitCode,
        bytes output,
        uint40 disputeDeadline
    );
    event JobFailed(uint256 indexed jobId, address indexed by, string reason);
    event JobRefunded(uint256 indexed jobId, address indexed client, uint256 amount);
    /// mediator: always the zero address now (the mediator is drawn after this block: `JobMediatorDrawn`)
    event JobDisputed(uint256 indexed jobId, address indexed client, address indexed mediator, bytes32 dealId);
    event JobMediatorDrawn(uint256 indexed jobId, address indexed client, address indexed mediator);
    event JobMediated(uint256 indexed jobId, address indexed mediator, bool resultCorrect);
    event JobDisputeTimedOut(uint256 indexed jobId, address indexed mediator);
    event JobReleased(uint256 indexed jobId, address indexed bridge, uint256 payment);
    event ClientCallbackFailed(uint256 indexed jobId, address indexed client, bytes reason);
    event ClientCallbackDelivered(uint256 indexed jobId);
    event BondDeposited(address indexed bridge, uint256 amount);
    event BondWithdrawn(address indexed bridge, uint256 amount);
    event BondSlashed(address indexed bridge, uint256 indexed jobId, uint256 amount);
    event ModulePriceSet(bytes32 indexed moduleHash, string module, uint96 price);
    event CallbackGasPriceSet(uint96 price);

    // requests
    error ModuleNotOffered(string module);
    error CallbackGasOutOfBounds(uint32 callbackGasLimit, uint32 min, uint32 max);
    error TimeoutOutOfBounds(uint32 timeout, uint32 min, uint32 max);
    error TooManyInputs(uint256 count, uint256 max);
    error InvalidInputKey(uint256 index);
    error InputsNotSorted(uint256 index);
    error InvalidUtf8(uint256 index);
    error InputsTooLarge(uint256 size, uint256 max);
    error PaymentBelowQuote(uint256 maxPayment, uint256 quote);
    // job life
    error NotClient(address caller, address client);
    error WrongJobStatus(uint256 jobId, JobStatus status);
    error JobExpired(uint256 jobId, uint40 deadline);
    error JobNotExpired(uint256 jobId, uint40 deadline);
    error NotABridge(address caller);
    error PickedUpByAnother(uint256 jobId, address bridge);
    error NotDealJobCreator(address caller, address jobCreator);
    error JobOfferMismatch(bytes32 dealJobOfferId, bytes32 jobOfferId);
    error RequestMismatch(uint256 jobId);
    error DealAlreadyUsed(bytes32 dealId);
    error ResultMismatch(bytes32 dealId);
    error ResultNotStanding(bytes32 dealId, uint8 dealState);
    error OutputTooLong(uint256 length, uint256 max);
    error ReasonTooLong(uint256 length, uint256 max);
    error BondTooLow(address bridge, uint256 free, uint256 needed);
    // disputes
    error DisputeWindowClosed(uint256 jobId, uint40 deadline);
    error DisputeWindowOpen(uint256 jobId, uint40 deadline);
    error NoMediatorAvailable();
    error MediatorDrawNotReady();
    error MediatorDrawClosed();
    error MediatorAlreadyDrawn(uint256 jobId);
    error NotJobMediator(address caller, address mediator);
    error MediationWindowClosed(uint256 jobId, uint40 deadline);
    error MediationWindowOpen(uint256 jobId, uint40 deadline);
    // callbacks
    error InsufficientCallbackGas(uint256 available, uint256 needed);
    error CallbackNotPending(uint256 jobId);
    error PayloadMismatch(uint256 jobId);
    // administration
    error InvalidModule();
    error PriceTooHigh(uint256 price, uint256 max);
    error InvalidConfig();
    error ZeroAmount();

    /// LP a request costs now: the module's price plus `callbackGasLimit` × `callbackGasPrice`. Reverts
    /// `ModuleNotOffered` for a module the network does not run, `CallbackGasOutOfBounds` outside the limits.
    function quote(string calldata module, uint32 callbackGasLimit) external view returns (uint256);

    /// The module's base price in LP wei (0: not offered).
    function modulePrice(string calldata module) external view returns (uint96);

    /// LP wei per unit of callback gas.
    function callbackGasPrice() external view returns (uint96);

    function config() external view returns (Config memory);

    /// The LP token payments are made in.
    function token() external view returns (ILilypadToken);

    /// Requests a job. Takes exactly `quote(module, callbackGasLimit)` from the caller by allowance (refused with
    /// `PaymentBelowQuote` when that exceeds `maxPayment`). The job must complete within `timeout` seconds, else
    /// anyone may `refundExpired` it. The caller is the client: it receives the callbacks and any refund.
    function runJob(
        string calldata module,
        Input[] calldata inputs,
        uint32 callbackGasLimit,
        uint32 timeout,
        uint256 maxPayment
    ) external returns (uint256 jobId);

    /// The client takes a job back before any bridge picked it up; the payment is refunded, no callback is made.
    function cancelJob(uint256 jobId) external;

    /// A job past its deadline without a result: anyone may close it; the client is refunded and called back
    /// with `lilypadJobFailed(jobId, "expired")`.
    function refundExpired(uint256 jobId) external;

    /// The client disputes a delivered result within its dispute window, paying `disputeFee` by allowance.
    /// A mediator the network approved is drawn and re-runs the job.
    function disputeJob(uint256 jobId) external;

    /// Fixes a disputed job's mediator from the dispute block's hash: anyone, from the next block to 256 after it.
    function drawJobMediator(uint256 jobId) external;

    /// Delivers a callback that failed (reverted or ran out of gas) again, with the job's callback gas limit.
    /// `payload` is the job's `output` (completed jobs) or failure `reason` (failed ones), as in its event.
    function retryCallback(uint256 jobId, bytes calldata payload) external;

    function resultOf(uint256 jobId) external view returns (JobResult memory);

    /// The canonical JSON the job will carry for these inputs (and the named error a request would revert with).
    function inputsJson(Input[] calldata inputs) external pure returns (string memory);
}
