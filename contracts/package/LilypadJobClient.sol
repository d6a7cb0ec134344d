// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IJobManager} from "./IJobManager.sol";
import {ILilypadJobClient} from "./ILilypadJobClient.sol";

/// Base for a contract that orders Lilypad jobs. Implement `_onJobCompleted` and `_onJobFailed`; call
/// `_requestJob` to order one. Only the JobManager given at construction can deliver results: anyone else calling
/// the callbacks gets `NotJobManager`.
///
/// `_requestJob` pays from this contract's own LP balance. A contract that lets strangers order jobs should make
/// them pay first (e.g. `token.transferFrom(msg.sender, address(this), jobManager.quote(...))`), or anyone can
/// spend its balance.
abstract contract LilypadJobClient is ILilypadJobClient {
    IJobManager public immutable jobManager;

    error NotJobManager(address caller);
    error ApproveFailed();

    constructor(IJobManager jobManager_) {
        jobManager = jobManager_;
    }

    function lilypadJobCompleted(uint256 jobId, string calldata resultCid, int32 exitCode, bytes calldata output)
        external
    {
        if (msg.sender != address(jobManager)) revert NotJobManager(msg.sender);
        _onJobCompleted(jobId, resultCid, exitCode, output);
    }

    function lilypadJobFailed(uint256 jobId, string calldata reason) external {
        if (msg.sender != address(jobManager)) revert NotJobManager(msg.sender);
        _onJobFailed(jobId, reason);
    }

    /// Runs within the request's callback gas limit; keep it within what you asked for.
    function _onJobCompleted(uint256 jobId, string calldata resultCid, int32 exitCode, bytes calldata output)
        internal
        virtual;

    function _onJobFailed(uint256 jobId, string calldata reason) internal virtual;

    /// Orders `module` with `inputs` (keys in ascending order), paying exactly the current quote from this
    /// contract's LP balance. `callbackGasLimit` is what your `_onJobCompleted` / `_onJobFailed` may use.
    function _requestJob(
        string memory module,
        IJobManager.Input[] memory inputs,
        uint32 callbackGasLimit,
        uint32 timeout
    ) internal returns (uint256 jobId) {
        uint256 price = jobManager.quote(module, callbackGasLimit);
        if (!jobManager.token().approve(address(jobManager), price)) revert ApproveFailed();
        jobId = jobManager.runJob(module, inputs, callbackGasLimit, timeout, price);
    }

    /// Disputes a delivered result (within its dispute window), paying the dispute fee from this contract.
    function _disputeJob(uint256 jobId) internal {
        if (!jobManager.token().approve(address(jobManager), jobManager.config().disputeFee)) revert ApproveFailed();
        jobManager.disputeJob(jobId);
    }

    /// Cancels a job no bridge has picked up yet; the payment comes back to this contract.
    function _cancelJob(uint256 jobId) internal {
        jobManager.cancelJob(jobId);
    }

    /// One input, for the common single-input module.
    function _input(string memory key, string memory value) internal pure returns (IJobManager.Input[] memory inputs) {
        inputs = new IJobManager.Input[](1);
        inputs[0] = IJobManager.Input(key, value);
    }
}
