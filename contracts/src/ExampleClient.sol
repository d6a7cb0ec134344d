// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ILilypadJobClient} from "./LilypadTypes.sol";
import {JobManager} from "./JobManager.sol";

/// Runs cowsay from chain: pays from its own LP balance and keeps each job's result CID.
contract ExampleClient is ILilypadJobClient {
    using SafeERC20 for IERC20;

    string public constant MODULE = "cowsay:v0.0.1";

    JobManager public immutable jobManager;
    IERC20 public immutable token;
    uint96 public immutable payment;
    uint32 public immutable timeout;

    mapping(uint256 => string) public results;
    mapping(uint256 => string) public failures;

    event CowsayRequested(uint256 indexed jobId, string message);
    event CowsayResult(uint256 indexed jobId, bytes32 dealId, string resultCid);
    event CowsayFailed(uint256 indexed jobId, string reason);

    error NotJobManager(address caller);

    constructor(JobManager jobManager_, uint96 payment_, uint32 timeout_) {
        jobManager = jobManager_;
        token = jobManager_.token();
        payment = payment_;
        timeout = timeout_;
    }

    function runCowsay(string calldata message) external returns (uint256 jobId) {
        JobManager.Input[] memory inputs = new JobManager.Input[](1);
        inputs[0] = JobManager.Input("Message", message);
        token.forceApprove(address(jobManager), payment);
        jobId = jobManager.runJob(MODULE, inputs, payment, timeout);
        emit CowsayRequested(jobId, message);
    }

    function lilypadJobCompleted(uint256 jobId, bytes32 dealId, string calldata resultCid) external {
        if (msg.sender != address(jobManager)) revert NotJobManager(msg.sender);
        results[jobId] = resultCid;
        emit CowsayResult(jobId, dealId, resultCid);
    }

    function lilypadJobFailed(uint256 jobId, string calldata reason) external {
        if (msg.sender != address(jobManager)) revert NotJobManager(msg.sender);
        failures[jobId] = reason;
        emit CowsayFailed(jobId, reason);
    }
}
