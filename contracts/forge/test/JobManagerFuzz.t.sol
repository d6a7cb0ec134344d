// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LilypadToken} from "lilypad/LilypadToken.sol";
import {Directory} from "lilypad/Directory.sol";
import {Market} from "lilypad/Market.sol";
import {JobManager} from "lilypad/JobManager.sol";
import {CommitteeRules, Deal, JobOffer, MachineSpec, MarketBounds} from "lilypad/LilypadTypes.sol";
import {IJobManager} from "lilypad-contracts/IJobManager.sol";

interface Vm {
    function warp(uint256) external;
    function prank(address) external;
    function addr(uint256) external returns (address);
    function sign(uint256, bytes32) external returns (uint8, bytes32, bytes32);
}

/// Fuzzes prices, callback gas and the path a contract job takes (cancel, fail, expire, release, and the three
/// dispute outcomes); on every path the JobManager must hold exactly what its jobs and bonds account for, and
/// the client, the bridge and the mediator must end with what docs/contracts.md says.
contract JobManagerFuzz {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 constant BRIDGE_KEY = 0xB81D6E;
    uint256 constant RP_KEY = 0xB0B;
    uint96 constant BOND = 5e18;
    uint96 constant FEE = 1e18;
    uint32 constant WINDOW = 600;
    LilypadToken token;
    Directory directory;
    Market market;
    JobManager jm;
    address bridge;
    address rp;
    address client = address(0xC11E47);
    address mediator = address(0xBEEF);

    function setUp() public {
        bridge = vm.addr(BRIDGE_KEY);
        rp = vm.addr(RP_KEY);
        token = new LilypadToken(address(this), 1e30);
        directory = new Directory(address(this));
        market = new Market(token, directory, MarketBounds(1, 1e6, 1, 1e6, 1, 1e6, 1 days, 0), CommitteeRules(1, 0, 0, 0, 0, 0));
        jm = new JobManager(
            token, market, directory, IJobManager.Config(10, 1e6, 10_000, 2_000_000, WINDOW, WINDOW, BOND, FEE), address(this)
        );
        directory.approveMediator(mediator);
        vm.prank(mediator);
        directory.register(8, "m", "");
        directory.approveBridge(bridge);
        vm.prank(bridge);
        directory.register(20, "b", "");
        token.transfer(bridge, 1e28);
        token.transfer(rp, 1e27);
        token.transfer(client, 1e28);
        vm.prank(bridge);
        token.approve(address(market), type(uint256).max);
        vm.prank(bridge);
        market.deposit(1e27);
        vm.prank(bridge);
        token.approve(address(jm), type(uint256).max);
        vm.prank(bridge);
        jm.depositBond(1e27);
        vm.prank(rp);
        token.approve(address(market), type(uint256).max);
        vm.prank(rp);
        market.deposit(1e27);
        vm.prank(client);
        token.approve(address(jm), type(uint256).max);
    }

    function testFuzz_everyJobPathConservesAndPays(uint96 price, uint96 gasPrice, uint32 gas, uint8 path) public {
        price = uint96(bound(price, 1, 1e24));
        gas = uint32(bound(gas, 10_000, 2_000_000));
        gasPrice = uint96(bound(gasPrice, 0, 1e12));
        path = uint8(bound(path, 0, 6));
        jm.setModulePrice("m:v1", price);
        jm.setCallbackGasPrice(gasPrice);
        uint256 quote = jm.quote("m:v1", gas);
        IJobManager.Input[] memory inputs = new IJobManager.Input[](1);
        inputs[0] = IJobManager.Input("A", "x");
        uint256 client0 = token.balanceOf(client);
        (uint128 free0,) = jm.bonds(bridge);
        vm.prank(client);
        uint256 jobId = jm.runJob("m:v1", inputs, gas, 600, type(uint256).max);
        assert(token.balanceOf(client) == client0 - quote);
        _conserved(jobId, false);

        if (path == 0) {
            vm.prank(client);
            jm.cancelJob(jobId);
            _expect(jobId, client0, free0, 0);
            return;
        }
        if (path == 1) {
            vm.prank(bridge);
            jm.failJob(jobId, "no provider");
            _expect(jobId, client0, free0, 0);
            return;
        }
        if (path == 2) {
            vm.warp(block.timestamp + 601);
            jm.refundExpired(jobId);
            _expect(jobId, client0, free0, 0);
            return;
        }
        _complete(jobId);
        uint256 lock = quote + BOND;
        (uint128 free1, uint128 locked1) = jm.bonds(bridge);
        assert(free1 == free0 - lock && locked1 == lock);
        _conserved(jobId, false);
        if (path == 3) {
            vm.warp(block.timestamp + WINDOW + 1);
            uint256[] memory ids = new uint256[](1);
            ids[0] = jobId;
            jm.release(ids);
            _expect(jobId, client0 - quote, free0 + quote, 0);
            return;
        }
        vm.prank(client);
        jm.disputeJob(jobId);
        _conserved(jobId, true);
        // the mediator is drawn from the dispute block's hash, from the next block on
        vm.roll(block.number + 1);
        jm.drawJobMediator(jobId);
        if (path == 4) {
            vm.prank(mediator);
            jm.mediateJob(jobId, true);
            _expect(jobId, client0 - quote - FEE, free0 + quote, FEE);
            return;
        }
        if (path == 5) {
            vm.prank(mediator);
            jm.mediateJob(jobId, false);
            // payment back, fee back, and the slashed lock less the mediator's fee
            _expect(jobId, client0 + lock - FEE, free0 - lock, FEE);
            return;
        }
        vm.warp(block.timestamp + WINDOW + 1);
        jm.timeoutJobDispute(jobId);
        _expect(jobId, client0 - quote, free0 + quote, 0);
    }

    function _complete(uint256 jobId) internal {
        address[] memory mediators = new address[](1);
        mediators[0] = mediator;
        JobOffer memory offer = JobOffer(
            bridge, "m:v1", '{"A":"x"}', MachineSpec(1, 1, 1, 0, 0, "", 0), 1e27, mediators, address(0), 60, 0,
            uint64(block.timestamp + 600), uint64(jobId), keccak256(abi.encode(jobId))
        );
        Deal memory deal = Deal(
            jm.jobOfferId(offer), bytes32(0), bridge, rp, mediators, 1e18, 2e18, 1e18, 0, 600, 600, 600,
            uint64(block.timestamp + 600), uint64(jobId)
        );
        bytes32 id = market.dealId(deal);
        market.agree(deal, _sign(BRIDGE_KEY, id), _sign(RP_KEY, id));
        vm.prank(rp);
        market.submitResult(deal, "bafy");
        vm.prank(bridge);
        jm.completeJob(jobId, offer, deal, "bafy", 0, "moo");
    }

    function _sign(uint256 key, bytes32 digest) internal returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// The JobManager holds the bridge's bond account plus this job's payment while it is live (and the fee while
    /// disputed): this test's only job.
    function _conserved(uint256 jobId, bool disputed) internal view {
        (uint128 free, uint128 locked) = jm.bonds(bridge);
        IJobManager.JobResult memory r = jm.resultOf(jobId);
        uint256 live = uint8(r.status) >= 1 && uint8(r.status) <= 4 ? r.payment : 0;
        assert(token.balanceOf(address(jm)) == uint256(free) + locked + live + (disputed ? FEE : 0));
    }

    function _expect(uint256 jobId, uint256 clientBal, uint256 bridgeFree, uint256 mediatorBal) internal view {
        (uint128 free, uint128 locked) = jm.bonds(bridge);
        assert(token.balanceOf(client) == clientBal);
        assert(free == bridgeFree && locked == 0);
        assert(token.balanceOf(mediator) == mediatorBal);
        assert(token.balanceOf(address(jm)) == free);
        assert(uint8(jm.resultOf(jobId).status) >= 5);
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + (x % (hi - lo + 1));
    }
}
