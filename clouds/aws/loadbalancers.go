package aws

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/algos-dev/algos/clouds"
)

// CreateLoadBalancer creates an ELBv2 load balancer named spec.Name, a target group of the
// same name (instance targets on TargetPort in Config.VPC, with spec.HealthCheck, and
// Config.DeregistrationDelay), and one listener on Port forwarding to it. Protocol tcp makes
// a network load balancer; http and https an application load balancer (https terminates
// TLS with CertificateID, an ACM certificate ARN, and forwards HTTP). It uses the subnets
// of spec.Zones (all of Config.Subnets when nil). A failed create deletes what it made.
// Errors: ErrAlreadyExists (ELBv2 itself answers a create with identical settings with the
// existing load balancer), ErrInvalid, *QuotaError.
func (d *Driver) CreateLoadBalancer(ctx context.Context, spec clouds.LoadBalancerSpec) (clouds.LoadBalancer, error) {
	const op = "create load balancer"
	if err := canceled(ctx, op); err != nil {
		return clouds.LoadBalancer{}, err
	}
	kind, listenerProto, targetProto, err := d.lbProtocols(spec)
	if err != nil {
		return clouds.LoadBalancer{}, err
	}
	zones := spec.Zones
	if len(zones) == 0 {
		zones = d.zones
	}
	var subnets []string
	for _, z := range zones {
		if _, subnet, err := d.placement(z); err != nil {
			return clouds.LoadBalancer{}, err
		} else if subnet != "" {
			subnets = append(subnets, subnet)
		}
	}
	if len(subnets) == 0 {
		return clouds.LoadBalancer{}, invalid(op, "load balancer %q: no subnets: set Config.Subnets", spec.Name)
	}
	switch _, err := d.describeLB(ctx, spec.Name); {
	case err == nil:
		return clouds.LoadBalancer{}, &Error{Op: op, Kind: clouds.ErrAlreadyExists, Err: fmt.Errorf("load balancer %s exists", spec.Name)}
	case !isCode(err, "LoadBalancerNotFound"):
		return clouds.LoadBalancer{}, d.wrap(ctx, op+" "+spec.Name, err, target{})
	}

	scheme := elbtypes.LoadBalancerSchemeEnumInternetFacing
	if spec.Internal {
		scheme = elbtypes.LoadBalancerSchemeEnumInternal
	}
	in := &elb.CreateLoadBalancerInput{Name: aws.String(spec.Name), Subnets: subnets, Scheme: scheme, Type: kind, Tags: elbTags(spec.Tags)}
	if kind == elbtypes.LoadBalancerTypeEnumApplication {
		in.SecurityGroups = d.cfg.SecurityGroups
	}
	out, err := d.elb.CreateLoadBalancer(ctx, in)
	if err != nil {
		return clouds.LoadBalancer{}, d.wrap(ctx, op+" "+spec.Name, err, target{create: true})
	}
	lb := out.LoadBalancers[0]
	fail := func(what string, err error) (clouds.LoadBalancer, error) {
		if derr := d.DeleteLoadBalancer(context.WithoutCancel(ctx), spec.Name); derr != nil {
			d.log.Warn("roll back load balancer", "load_balancer", spec.Name, "error", derr)
		}
		return clouds.LoadBalancer{}, d.wrap(ctx, op+" "+spec.Name+": "+what, err, target{create: true})
	}
	tg, err := d.elb.CreateTargetGroup(ctx, d.targetGroupInput(spec, targetProto))
	if err != nil {
		return fail("target group", err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	_, err = d.elb.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{
		TargetGroupArn: tgARN,
		Attributes: []elbtypes.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"),
			Value: aws.String(strconv.Itoa(int(d.cfg.DeregistrationDelay.Seconds())))}},
	})
	if err != nil {
		return fail("target group attributes", err)
	}
	lin := &elb.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancerArn, Protocol: listenerProto, Port: aws.Int32(int32(spec.Port)),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tgARN}},
	}
	if spec.CertificateID != "" {
		lin.Certificates = []elbtypes.Certificate{{CertificateArn: aws.String(spec.CertificateID)}}
	}
	if _, err := d.elb.CreateListener(ctx, lin); err != nil {
		return fail("listener", err)
	}
	d.log.Info("load balancer created", "load_balancer", spec.Name, "type", kind, "port", spec.Port)
	return clouds.LoadBalancer{Name: spec.Name, ID: aws.ToString(lb.LoadBalancerArn), Address: aws.ToString(lb.DNSName), Port: spec.Port}, nil
}

// lbProtocols maps the spec's protocol to the load balancer type, listener protocol and
// target group protocol.
func (d *Driver) lbProtocols(spec clouds.LoadBalancerSpec) (elbtypes.LoadBalancerTypeEnum, elbtypes.ProtocolEnum, elbtypes.ProtocolEnum, error) {
	const op = "create load balancer"
	var err error
	switch {
	case spec.Name == "":
		err = invalid(op, "LoadBalancerSpec.Name is empty")
	case spec.Port < 1 || spec.Port > 65535 || spec.TargetPort < 1 || spec.TargetPort > 65535:
		err = invalid(op, "load balancer %q: Port %d and TargetPort %d must be in 1..65535", spec.Name, spec.Port, spec.TargetPort)
	case d.cfg.VPC == "":
		err = invalid(op, "load balancer %q: Config.VPC is empty: set the VPC of Config.Subnets", spec.Name)
	case spec.Protocol == clouds.ProtocolHTTPS && spec.CertificateID == "":
		err = invalid(op, "load balancer %q: https needs CertificateID (an ACM certificate ARN)", spec.Name)
	}
	if err != nil {
		return "", "", "", err
	}
	switch spec.Protocol {
	case clouds.ProtocolTCP, "":
		return elbtypes.LoadBalancerTypeEnumNetwork, elbtypes.ProtocolEnumTcp, elbtypes.ProtocolEnumTcp, nil
	case clouds.ProtocolHTTP:
		return elbtypes.LoadBalancerTypeEnumApplication, elbtypes.ProtocolEnumHttp, elbtypes.ProtocolEnumHttp, nil
	case clouds.ProtocolHTTPS:
		return elbtypes.LoadBalancerTypeEnumApplication, elbtypes.ProtocolEnumHttps, elbtypes.ProtocolEnumHttp, nil
	}
	return "", "", "", invalid(op, "load balancer %q: protocol %q: want tcp, http or https", spec.Name, spec.Protocol)
}

func (d *Driver) targetGroupInput(spec clouds.LoadBalancerSpec, proto elbtypes.ProtocolEnum) *elb.CreateTargetGroupInput {
	in := &elb.CreateTargetGroupInput{
		Name: aws.String(spec.Name), Protocol: proto, Port: aws.Int32(int32(spec.TargetPort)),
		VpcId: aws.String(d.cfg.VPC), TargetType: elbtypes.TargetTypeEnumInstance, Tags: elbTags(spec.Tags),
	}
	hc := spec.HealthCheck
	switch hc.Protocol {
	case clouds.ProtocolTCP:
		in.HealthCheckProtocol = elbtypes.ProtocolEnumTcp
	case clouds.ProtocolHTTP:
		in.HealthCheckProtocol = elbtypes.ProtocolEnumHttp
	case clouds.ProtocolHTTPS:
		in.HealthCheckProtocol = elbtypes.ProtocolEnumHttps
	}
	if hc.Port != 0 {
		in.HealthCheckPort = aws.String(strconv.Itoa(hc.Port))
	}
	if hc.Path != "" && hc.Protocol != clouds.ProtocolTCP {
		in.HealthCheckPath = aws.String(hc.Path)
	}
	seconds := func(d float64) *int32 {
		if d <= 0 {
			return nil
		}
		return aws.Int32(int32(max(1, d)))
	}
	in.HealthCheckIntervalSeconds = seconds(hc.Interval.Seconds())
	in.HealthCheckTimeoutSeconds = seconds(hc.Timeout.Seconds())
	if hc.HealthyThreshold > 0 {
		in.HealthyThresholdCount = aws.Int32(int32(hc.HealthyThreshold))
	}
	if hc.UnhealthyThreshold > 0 {
		in.UnhealthyThresholdCount = aws.Int32(int32(hc.UnhealthyThreshold))
	}
	return in
}

func elbTags(m map[string]string) []elbtypes.Tag {
	var out []elbtypes.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, elbtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func (d *Driver) describeLB(ctx context.Context, name string) (elbtypes.LoadBalancer, error) {
	out, err := d.elb.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{name}})
	if err != nil {
		return elbtypes.LoadBalancer{}, err
	}
	if len(out.LoadBalancers) == 0 {
		return elbtypes.LoadBalancer{}, notFound("describe load balancer", "load balancer %s does not exist", name)
	}
	return out.LoadBalancers[0], nil
}

// targetGroup returns the load balancer's target group (the one its listener forwards to).
func (d *Driver) targetGroup(ctx context.Context, op, name string) (elbtypes.LoadBalancer, *elbtypes.TargetGroup, error) {
	if err := canceled(ctx, op); err != nil {
		return elbtypes.LoadBalancer{}, nil, err
	}
	lb, err := d.describeLB(ctx, name)
	if err != nil {
		return lb, nil, d.wrap(ctx, op+" "+name, err, target{})
	}
	out, err := d.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil {
		return lb, nil, d.wrap(ctx, op+" "+name, err, target{})
	}
	for i, tg := range out.TargetGroups {
		if aws.ToString(tg.TargetGroupName) == name {
			return lb, &out.TargetGroups[i], nil
		}
	}
	return lb, nil, nil
}

// GetLoadBalancer describes the load balancer, its listener's port and its targets' health
// (DescribeTargetHealth): healthy → healthy; unhealthy → unhealthy; initial, draining,
// unused, unavailable → unknown. Errors: ErrNotFound.
func (d *Driver) GetLoadBalancer(ctx context.Context, name string) (clouds.LoadBalancer, error) {
	const op = "get load balancer"
	lb, tg, err := d.targetGroup(ctx, op, name)
	if err != nil {
		return clouds.LoadBalancer{}, err
	}
	out := clouds.LoadBalancer{Name: name, ID: aws.ToString(lb.LoadBalancerArn), Address: aws.ToString(lb.DNSName)}
	ls, err := d.elb.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil {
		return clouds.LoadBalancer{}, d.wrap(ctx, op+" "+name, err, target{})
	}
	if len(ls.Listeners) > 0 {
		out.Port = int(aws.ToInt32(ls.Listeners[0].Port))
	}
	if tg == nil {
		return out, nil
	}
	health, err := d.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil {
		return clouds.LoadBalancer{}, d.wrap(ctx, op+" "+name, err, target{})
	}
	for _, h := range health.TargetHealthDescriptions {
		if h.Target == nil {
			continue
		}
		t := clouds.Target{InstanceID: aws.ToString(h.Target.Id), Health: clouds.TargetUnknown}
		if h.TargetHealth != nil {
			switch h.TargetHealth.State {
			case elbtypes.TargetHealthStateEnumHealthy:
				t.Health = clouds.TargetHealthy
			case elbtypes.TargetHealthStateEnumUnhealthy:
				t.Health = clouds.TargetUnhealthy
			}
		}
		out.Targets = append(out.Targets, t)
	}
	return out, nil
}

// RegisterTargets registers running instances as targets (on the target port). ELBv2
// keeps registered ones as they are. Errors: ErrNotFound for the load balancer, ErrInvalid
// for an instance that is not running in the VPC.
func (d *Driver) RegisterTargets(ctx context.Context, name string, instanceIDs ...string) error {
	const op = "register targets"
	_, tg, err := d.targetGroup(ctx, op, name)
	if err != nil {
		return err
	}
	if tg == nil {
		return notFound(op, "load balancer %s has no target group", name)
	}
	if len(instanceIDs) == 0 {
		return nil
	}
	_, err = d.elb.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: targetDescs(instanceIDs)})
	if err != nil {
		return d.wrap(ctx, op+" "+name, err, target{})
	}
	d.log.Info("targets registered", "load_balancer", name, "targets", len(instanceIDs))
	return nil
}

// DeregisterTargets deregisters the given instances that are registered (and not already
// draining); the load balancer drains them for Config.DeregistrationDelay. Errors:
// ErrNotFound for the load balancer.
func (d *Driver) DeregisterTargets(ctx context.Context, name string, instanceIDs ...string) error {
	const op = "deregister targets"
	_, tg, err := d.targetGroup(ctx, op, name)
	if err != nil {
		return err
	}
	if tg == nil || len(instanceIDs) == 0 {
		return nil
	}
	health, err := d.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil {
		return d.wrap(ctx, op+" "+name, err, target{})
	}
	var registered []string
	for _, h := range health.TargetHealthDescriptions {
		id := aws.ToString(h.Target.Id)
		if slices.Contains(instanceIDs, id) && (h.TargetHealth == nil || h.TargetHealth.State != elbtypes.TargetHealthStateEnumDraining) {
			registered = append(registered, id)
		}
	}
	if len(registered) == 0 {
		return nil
	}
	_, err = d.elb.DeregisterTargets(ctx, &elb.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: targetDescs(registered)})
	if err != nil && !isCode(err, "InvalidTarget") { // InvalidTarget: deregistered in the meantime
		return d.wrap(ctx, op+" "+name, err, target{})
	}
	d.log.Info("targets deregistered", "load_balancer", name, "targets", len(registered))
	return nil
}

func targetDescs(ids []string) []elbtypes.TargetDescription {
	out := make([]elbtypes.TargetDescription, len(ids))
	for i, id := range ids {
		out[i] = elbtypes.TargetDescription{Id: aws.String(id)}
	}
	return out
}

// DeleteLoadBalancer deletes the load balancer (with its listener), waits until ELBv2 no
// longer lists it, then deletes its target group, retrying while ELBv2 still reports the
// group in use. It also deletes a target group of that name left by a failed create.
// Idempotent.
func (d *Driver) DeleteLoadBalancer(ctx context.Context, name string) error {
	const op = "delete load balancer"
	lb, tg, err := d.targetGroup(ctx, op, name)
	switch {
	case isNotFound(err):
	case err != nil:
		return err
	default:
		if _, err := d.elb.DeleteLoadBalancer(ctx, &elb.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil {
			return d.wrap(ctx, op+" "+name, err, target{})
		}
		minDelay, maxDelay, maxWait := d.waitBounds()
		err := elb.NewLoadBalancersDeletedWaiter(d.elb, func(o *elb.LoadBalancersDeletedWaiterOptions) {
			o.MinDelay, o.MaxDelay = minDelay, maxDelay
		}).Wait(ctx, &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{aws.ToString(lb.LoadBalancerArn)}}, maxWait)
		if err != nil {
			return d.wrap(ctx, op+" "+name+": wait for deletion", err, target{})
		}
		d.log.Info("load balancer deleted", "load_balancer", name)
	}
	arn := ""
	if tg != nil {
		arn = aws.ToString(tg.TargetGroupArn)
	} else {
		out, err := d.elb.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{name}})
		switch {
		case isCode(err, "TargetGroupNotFound"):
			return nil
		case err != nil:
			return d.wrap(ctx, op+" "+name+": target group", err, target{})
		case len(out.TargetGroups) == 0:
			return nil
		}
		arn = aws.ToString(out.TargetGroups[0].TargetGroupArn)
	}
	err = d.consistently(ctx, func(err error) bool { return isCode(err, "ResourceInUse") }, func() error {
		_, err := d.elb.DeleteTargetGroup(ctx, &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)})
		return err
	})
	if err != nil && !isCode(err, "TargetGroupNotFound") {
		return d.wrap(ctx, op+" "+name+": target group", err, target{})
	}
	return nil
}
