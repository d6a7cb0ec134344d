// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Deal, ILilypadJobClient} from "./LilypadTypes.sol";
import {Market} from "./Market.sol";
import {Directory} from "./Directory.sol";

/// Contract-triggered jobs. A client contract pays up front; a bridge (a node registered as job creator) runs the
/// job through the network as an ordinary deal and completes it here with that deal. The Market is asked whether
/// the deal's on-chain result is the CID the bridge hands over, so a bridge cannot invent a result; the bridge is
/// then reimbursed with the client's payment.
contract JobManager {
    using SafeERC20 for IERC20;

    struct Input {
        string key;
        string value;
    }

    struct Job {
        address client;
        uint96 payment;
        uint40 deadline;
        uint8 state;
    }

    uint8 public constant JOB_OPEN = 1;
    uint8 public constant JOB_COMPLETED = 2;
    uint8 public constant JOB_FAILED = 3;
    uint8 public constant JOB_REFUNDED = 4;

    /// Enough for a client to store a CID; bounded so a client cannot burn the bridge's gas.
    uint256 public constant CALLBACK_GAS = 300_000;

    IERC20 public immutable token;
    Market public immutable market;
    Directory public immutable directory;
    uint96 public immutable minPayment;

    uint256 public nextJobId = 1;
    mapping(uint256 => Job) public jobs;
    mapping(bytes32 => bool) public dealUsed;

    event JobRequested(
        uint256 indexed jobId, address indexed client, string module, Input[] inputs, uint96 payment, uint40 deadline
    );
    event JobCompleted(uint256 indexed jobId, address indexed bridge, bytes32 indexed dealId, string resultCid);
    event JobFailed(uint256 indexed jobId, address indexed by, string reason);
    event JobRefunded(uint256 indexed jobId, address indexed client, uint96 payment);
    event ClientCallbackFailed(uint256 indexed jobId, address indexed client, bytes reason);

    error PaymentTooLow(uint96 payment, uint96 minPayment);
    error InvalidTimeout();
    error EmptyModule();
    error NotABridge(address caller);
    error NotDealJobCreator(address caller, address jobCreator);
    error ResultMismatch(bytes32 dealId);
    error DealAlreadyUsed(bytes32 dealId);
    error JobNotOpen(uint256 jobId, uint8 state);
    error JobExpired(uint256 jobId, uint40 deadline);
    error JobNotExpired(uint256 jobId, uint40 deadline);

    constructor(IERC20 token_, Market market_, Directory directory_, uint96 minPayment_) {
        token = token_;
        market = market_;
        directory = directory_;
        minPayment = minPayment_;
    }

    function runJob(string calldata module, Input[] calldata inputs, uint96 payment, uint32 timeout)
        external
        returns (uint256 jobId)
    {
        if (bytes(module).length == 0) revert EmptyModule();
        if (payment < minPayment || payment == 0) revert PaymentTooLow(payment, minPayment);
        if (timeout == 0) revert InvalidTimeout();
        token.safeTransferFrom(msg.sender, address(this), payment);
        jobId = nextJobId++;
        uint40 deadline = uint40(block.timestamp + timeout);
        jobs[jobId] = Job(msg.sender, payment, deadline, JOB_OPEN);
        emit JobRequested(jobId, msg.sender, module, inputs, payment, deadline);
    }

    function completeJob(uint256 jobId, Deal calldata deal, string calldata resultCid) external {
        Job memory job = _openJob(jobId);
        if (block.timestamp > job.deadline) revert JobExpired(jobId, job.deadline);
        if (!directory.hasRole(msg.sender, directory.ROLE_JOB_CREATOR())) revert NotABridge(msg.sender);
        if (deal.jobCreator != msg.sender) revert NotDealJobCreator(msg.sender, deal.jobCreator);
        bytes32 id = market.dealId(deal);
        if (dealUsed[id]) revert DealAlreadyUsed(id);
        if (!market.resultMatches(id, resultCid)) revert ResultMismatch(id);
        dealUsed[id] = true;
        jobs[jobId].state = JOB_COMPLETED;
        token.safeTransfer(msg.sender, job.payment);
        emit JobCompleted(jobId, msg.sender, id, resultCid);
        _callback(jobId, job.client, abi.encodeCall(ILilypadJobClient.lilypadJobCompleted, (jobId, id, resultCid)));
    }

    /// Any registered bridge may give up on a job (e.g. no provider would take it); the client gets its payment back.
    function failJob(uint256 jobId, string calldata reason) external {
        Job memory job = _openJob(jobId);
        if (!directory.hasRole(msg.sender, directory.ROLE_JOB_CREATOR())) revert NotABridge(msg.sender);
        jobs[jobId].state = JOB_FAILED;
        token.safeTransfer(job.client, job.payment);
        emit JobFailed(jobId, msg.sender, reason);
        emit JobRefunded(jobId, job.client, job.payment);
        _callback(jobId, job.client, abi.encodeCall(ILilypadJobClient.lilypadJobFailed, (jobId, reason)));
    }

    function refundExpired(uint256 jobId) external {
        Job memory job = _openJob(jobId);
        if (block.timestamp <= job.deadline) revert JobNotExpired(jobId, job.deadline);
        jobs[jobId].state = JOB_REFUNDED;
        token.safeTransfer(job.client, job.payment);
        emit JobRefunded(jobId, job.client, job.payment);
        _callback(jobId, job.client, abi.encodeCall(ILilypadJobClient.lilypadJobFailed, (jobId, "expired")));
    }

    function _openJob(uint256 jobId) internal view returns (Job memory job) {
        job = jobs[jobId];
        if (job.state != JOB_OPEN) revert JobNotOpen(jobId, job.state);
    }

    /// State and funds are final before the call, so a reverting (or re-entering) client changes nothing.
    function _callback(uint256 jobId, address client, bytes memory data) internal {
        if (client.code.length == 0) return;
        (bool ok, bytes memory reason) = client.call{gas: CALLBACK_GAS}(data);
        if (!ok) emit ClientCallbackFailed(jobId, client, reason);
    }
}
