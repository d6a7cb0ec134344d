// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IJobManager} from "../package/IJobManager.sol";
import {LilypadJobClient} from "../package/LilypadJobClient.sol";

/// Runs cowsay from chain: pays from its own LP balance and keeps each job's result CID, exit code and the cow
/// itself (the inline stdout).
contract ExampleClient is LilypadJobClient {
    string public constant MODULE = "cowsay:v0.0.1";

    uint32 public immutable callbackGasLimit;
    uint32 public immutable timeout;

    mapping(uint256 => string) public results;
    mapping(uint256 => bytes) public outputs;
    mapping(uint256 => int32) public exitCodes;
    mapping(uint256 => string) public failures;

    event CowsayRequested(uint256 indexed jobId, string message);
    event CowsayResult(uint256 indexed jobId, string resultCid, int32 exitCode);
    event CowsayFailed(uint256 indexed jobId, string reason);

    constructor(IJobManager jobManager_, uint32 callbackGasLimit_, uint32 timeout_) LilypadJobClient(jobManager_) {
        callbackGasLimit = callbackGasLimit_;
        timeout = timeout_;
    }

    /// Anyone may call it and it spends this contract's balance: a demonstration, not a funded production pattern.
    function runCowsay(string calldata message) external returns (uint256 jobId) {
        jobId = _requestJob(MODULE, _input("Message", message), callbackGasLimit, timeout);
        emit CowsayRequested(jobId, message);
    }

    function _onJobCompleted(uint256 jobId, string calldata resultCid, int32 exitCode, bytes calldata output)
        internal
        override
    {
        results[jobId] = resultCid;
        outputs[jobId] = output;
        exitCodes[jobId] = exitCode;
        emit CowsayResult(jobId, resultCid, exitCode);
    }

    function _onJobFailed(uint256 jobId, string calldata reason) internal override {
        failures[jobId] = reason;
        emit CowsayFailed(jobId, reason);
    }
}
