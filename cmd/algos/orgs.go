package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/algos-dev/algos/api"
)

func accountCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Manage user accounts (administrators)"}
	var admin bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user and print their first key (shown once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			out, err := c.CreateAccount(cmd.Context(), api.CreateAccount{Name: args[0], Admin: admin})
			if err != nil {
				return err
			}
			fmt.Printf("created account %s; its first key (manage, data read-write, every algorithm), shown once:\n%s\n", out.Account.Name, out.Key.Secret)
			return nil
		},
	}
	create.Flags().BoolVar(&admin, "admin", false, "make the account an administrator")
	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			as, err := c.ListAccounts(cmd.Context())
			if err != nil {
				return err
			}
			for _, a := range as {
				kind := "user"
				if a.Organization {
					kind = "organization"
				}
				if a.Admin {
					kind += " (admin)"
				}
				fmt.Printf("%-30s %s\n", a.Name, kind)
			}
			return nil
		},
	}
	cmd.AddCommand(create, list)
	return cmd
}

func orgCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Manage organizations: accounts whose members act for them"}
	printOrg := func(o api.Organization) {
		fmt.Println(o.Name)
		for _, m := range o.Members {
			fmt.Printf("  %-30s %s\n", m.User, m.Role)
		}
	}
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an organization; you become its owner",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			o, err := c.CreateOrganization(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printOrg(o)
			return nil
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an organization's members",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			o, err := c.GetOrganization(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printOrg(o)
			return nil
		},
	}
	var role string
	add := &cobra.Command{
		Use:   "add ORG USER",
		Short: "Add a user to an organization, or change their role",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			switch role {
			case "owner", "admin", "member":
			default:
				return errors.New("--role: use owner, admin or member")
			}
			o, err := c.SetMember(cmd.Context(), args[0], args[1], role)
			if err != nil {
				return err
			}
			printOrg(o)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "member", "owner, admin or member")
	remove := &cobra.Command{
		Use:   "remove ORG USER",
		Short: "Remove a user from an organization",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client(cmd)
			if err != nil {
				return err
			}
			return c.RemoveMember(cmd.Context(), args[0], args[1])
		},
	}
	cmd.AddCommand(create, show, add, remove)
	return cmd
}
